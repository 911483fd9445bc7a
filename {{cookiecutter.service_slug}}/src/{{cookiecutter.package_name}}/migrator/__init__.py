"""The migration engine: files, history, drift, the runner, the dry run and
the scaffold. `yoyo_adapter` is the only module that speaks to yoyo."""
