"""Alembic environment: migrations run on the connection the museum hands over."""

from alembic import context

from server.models import Base, include_in_comparison

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_in_comparison,
)
with context.begin_transaction():
    context.run_migrations()
