"""Fine-tuning: (Q)LoRA training, GGUF export and quantization, evaluation gate, model registry.

``python -m training --help`` lists the commands; ``training/__main__.py`` has examples. Nothing
heavy is imported here.
"""
