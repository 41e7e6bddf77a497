"""The lab: Linux kernel initiators in throw-away QEMU guests (image builder, runner, network namespaces)."""
