"""Traditional Chinese texts of the losses, one module per group of family modules;
losscli.i18n_zh_tw merges them into LOSS_TEXTS."""
