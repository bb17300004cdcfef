"""What enrolment, search, live recognition and evaluation all need of faces: the Triton inference
client (`Face`, `InferenceClient`, `get_client`), the inference errors and the match thresholds.

A plain package, not a Django app (no models): it sits on the floor just above `cameras` and
imports nothing but `core`, so watchlists and evaluation reach Triton without importing the live
pipeline."""
