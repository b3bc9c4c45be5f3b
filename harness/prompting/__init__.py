"""Qian, Zhang and Liu (2023)'s prompting strategies for ED response generation.

template.py (their unified template), exemplars.py (random training exemplars), ssicl.py
(semantically similar exemplars: encoder choice, cached training-set index, retrieval),
emotions.py (stage-1 emotion onto ED's 32 labels), knowledge.py (the five ATOMIC
relations and their providers), stages.py (stage-1 texts between two lm-eval calls).
The lm-eval glue is harness/lmeval/qian.py; the choices are in docs/PROMPTING.md.
"""
