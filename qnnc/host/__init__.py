"""What the machine lends a call: CPU threads (`threads` reads the cores free now, `tuning` measures
which count runs a layer fastest), a memory budget (`memory`) and glibc's allocator tuned to keep
freed memory for the next step (`allocator`). The runtime and training use them; they know nothing
of quantum circuits."""
