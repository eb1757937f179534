"""Machine drafts of museum texts: labels, alt texts and translations, for staff to review.

* :mod:`server.drafting.model`: what a backend is asked (:class:`DraftRequest`) and answers
  (:class:`Draft`), and :class:`DraftingError`;
* :mod:`server.drafting.llm`: the OpenAI-compatible HTTP backend (Ollama, vLLM, llama.cpp);
* :mod:`server.drafting.template`: the template backend, offline and always available;
* :mod:`server.drafting.facts`: a record's facts and a media item's small picture;
* :mod:`server.drafting.jobs`: the ``draft_text`` job that plans and writes
  :class:`server.models.MachineDraft` rows.

Nothing drafted reaches visitors until a person accepts it (:mod:`server.review`).
"""
