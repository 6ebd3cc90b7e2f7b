"""The second compile-quality set (issue #13 point 4): circuits users write, independent of specs/.

Each entry is a small spec with one quantum layer, the shape people take from PennyLane and
Qiskit tutorials: strongly-entangling layers, hardware-efficient rings, a QCNN, a 3x3
quanvolution filter, an IQP feature map and an amplitude-encoded classifier.
"""
from __future__ import annotations

USER_CIRCUITS: dict[str, str] = {
    "strongly_entangling_8q_l3": """\
model m {
  input x: vector(8)
  qdense(qubits=8) {
    encode angle(rx)
    strongly_entangling(layers=3)
    measure z
  }
}
""",
    "hardware_efficient_ring_6q_l3": """\
model m {
  input x: vector(6)
  qdense(qubits=6) {
    encode angle(ry)
    hardware_efficient(layers=3, rotations=[ry, rz], entangle=ring)
    measure z
  }
}
""",
    "hardware_efficient_ring_8q_l2": """\
model m {
  input x: vector(8)
  qdense(qubits=8) {
    encode angle(ry)
    hardware_efficient(layers=2, rotations=[ry], entangle=ring)
    measure z
  }
}
""",
    "qcnn_8q": """\
model m {
  input x: vector(8)
  qnn(qubits=8) {
    encode angle(ry, scale=pi)
    repeat 3 {
      qconv(block=so4, share=true)
      qpool(block=controlled)
    }
    measure z
  }
}
""",
    "quanv_3x3": """\
model m {
  input x: image(1, 6, 6)
  quanv(kernel=3, stride=3, filters=1) {
    encode angle(ry, scale=pi)
    basic_entangler(layers=2, rotation=ry, entangle=ring)
    measure z
  }
}
""",
    "iqp_6q": """\
model m {
  input x: vector(6)
  qdense(qubits=6) {
    encode iqp(reps=2)
    basic_entangler(layers=1, rotation=ry, entangle=linear)
    measure z
  }
}
""",
    "amplitude_5q": """\
model m {
  input x: vector(32)
  qdense(qubits=5) {
    encode amplitude(normalize=true)
    strongly_entangling(layers=2)
    measure z
  }
}
""",
}
