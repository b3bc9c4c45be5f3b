"""SFT then DPO on EmpatheticDialogues with trl and peft, as EmPO trains its models.

- `recipe.py`: YAML recipes (models/recipes/) mapped onto trl.SFTConfig, trl.DPOConfig and
  peft.LoraConfig, validated with errors that name the file and field.
- `data.py`: ED dialogues as chat conversations with a listener-only loss mask (SFT), and
  EmPO preference pairs with a fresh rejected draw every epoch (DPO).
- `sft.py`, `dpo.py`: the two stages on trl's SFTTrainer and DPOTrainer.
- `run_folder.py`: what every output folder holds (adapter, resolved recipe, data hashes,
  seed, package versions, loss curve) and resuming from the last checkpoint.
- `merge.py`: a merged checkpoint (base + adapter) for servers such as vLLM.

Heavy imports (torch, trl, peft) stay inside functions so the CLI starts fast.
"""
