"""What the machine lends a call: CPU threads (`threads`), a memory budget (`memory`) and glibc's
allocator tuned to keep freed memory for the next step (`allocator`). The runtime and training use
them; they know nothing of quantum circuits."""
