"""EmpatheticDialogues examples, EmPO's prompts and its preference pairs."""
