"""The .qnn grammar, shipped inside the wheel as package data (`qnnc.grammar`)."""
