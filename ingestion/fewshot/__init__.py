"""Few-shot training data generated from the indexed reports.

The design's "large model as a dataset constructor": a small hand-written seed set in the app's
exact answer format (:mod:`.seeds`, ``seeds.jsonl``) guides the output format, and the set is
expanded automatically over the indexed reports, grounded so that no answer is invented:

- :mod:`.templates`: items from the facts table (lookups, year-over-year changes, ratios with their
  formula, two-company comparisons, two-step search→calculate agent traces), questions paraphrased
  in English and Chinese;
- :mod:`.narrative`: items the local model writes over narrative passages, few-shot prompted with
  the seeds under a JSON-schema grammar, re-checked by a second pass;
- :mod:`.refusals`: questions the report cannot answer → the refusal sentence;
- :mod:`.filters`: grounding, language, length, near-duplicate and evaluation-overlap filters;
- :mod:`.split`: train/validation by document; :mod:`.generate` writes train.jsonl, val.jsonl,
  card.json.

Items are rendered into the model-facing chat messages of the app's prompts (:mod:`.render`), so
fine-tuning teaches exactly what the model sees at serving time. Command line:
``python -m ingestion fewshot --out DIR [--per-doc N] [--llm/--no-llm]`` (:mod:`.cli`).
"""
