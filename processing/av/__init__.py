"""Video and audio: probing, the HLS ladder, captions from speech, audio guides (issue 6)."""
