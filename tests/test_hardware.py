"""`hardware` mode (#14): the compiled circuits through the vendors' own interfaces, tested with
their local modes (qiskit-ibm-runtime's fake backends; the offline Quantinuum machine description
with pytket-qiskit's AerBackend as the device stand-in), the job journal, the cost estimate and
its guards, and readout mitigation against `noisy` mode."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

import qnnc
from qnnc.diagnostics import UserError
from qnnc.execute.cost import check_budget, estimate_cost
from qnnc.execute.hardware import HardwareOptions, HardwareSession, device_of
from qnnc.execute.journal import FILE_NAME, JobJournal
from qnnc.execute.mitigation import mitigate, readout_inverses
from qnnc.execute.noisy import noisy_block
from qnnc.runtime import QuantumBlockModule
from qnnc.runtime.modes import parse_mode
from qnnc.targets.load import load_target

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SPEC = """model m {
  input x: vector(3)
  qnn(qubits=3) {
    encode angle(ry)
    basic_entangler(layers=1)
    measure z
  }
  dense(2)
}
"""
TWO_LAYERS = """model m {
  input x: vector(2)
  qdense(qubits=2) {
    encode angle(ry)
    basic_entangler(layers=1)
    measure z
  }
  qdense(qubits=2) {
    encode angle(rx)
    strongly_entangling(layers=1)
    measure probs
  }
}
"""


@pytest.fixture(scope="module")
def brisbane():
    return qnnc.compile(SPEC, target="ibm_brisbane")


def quantum(module):
    return next(iter(module.children()))


def features(n=4, width=3):
    return torch.rand(n, width, generator=torch.Generator().manual_seed(3)) * 3


def local(tmp_path=None, **kw):
    return HardwareOptions(local=True, run_dir=tmp_path, **kw)


def test_mode_name_and_devices():
    assert parse_mode("hardware", 100).name == "hardware"
    assert device_of(load_target("ibm_brisbane")).local == "FakeBrisbane"
    assert device_of(load_target("ibm_torino")).local == "FakeTorino"
    assert device_of(load_target("quantinuum_h2")).vendor == "quantinuum"
    with pytest.raises(UserError, match="not a device qnnc can submit to"):
        device_of(load_target("line_5"))
    with pytest.raises(UserError, match="max_jobs"):
        HardwareOptions(max_jobs=0)


def test_ibm_local_agrees_with_backend_and_noisy_within_shot_noise(brisbane, tmp_path):
    shots = 4000
    x = features()
    hardware = brisbane.module(mode="hardware", shots=shots, seed=1, hardware=local(tmp_path))
    got = quantum(hardware)(x)
    backend = quantum(brisbane.module(mode="backend", shots=shots, seed=1))(x)
    noisy = quantum(brisbane.module(mode="noisy", seed=1))(x)
    bound = 5 / np.sqrt(shots)  # σ of a sampled <Z> is at most 1/√shots
    assert (got - noisy).abs().max() < bound + 0.02  # + the fake device's own (thermal) noise model
    assert (got - backend).abs().max() < np.sqrt(2) * bound + 0.02
    session = hardware.hardware_session
    assert (session.jobs, session.shots) == (1, len(x) * shots)  # one job: one PUB of all rows
    (record,) = [json.loads(line) for line in (tmp_path / FILE_NAME).read_text().splitlines()
                 if json.loads(line)["status"] == "done"]
    assert len(record["counts"]) == 1 and len(record["counts"][0]) == len(x)  # 1 PUB, a row per sample
    assert record["device"] == "FakeBrisbane (local)"


def test_ibm_pub_is_one_isa_circuit_with_a_parameter_array(brisbane):
    module = brisbane.module(mode="hardware", shots=10, hardware=local())
    executor = quantum(module).block.executor
    values = np.random.default_rng(0).random((5, len(executor.templates[0].slots)))
    ((circuit, angles, shots),) = executor.pubs([(0, values)])
    assert angles.shape == (5, circuit.num_parameters) and shots == 10
    native = {"ecr", "rz", "sx", "x", "measure", "barrier"}
    assert set(circuit.count_ops()) <= native  # ISA: the target's native gates on physical qubits


def test_journal_resumes_without_resubmitting(brisbane, tmp_path):
    x = features()
    first = brisbane.module(mode="hardware", shots=200, seed=2, hardware=local(tmp_path))
    out = first(x)
    again = brisbane.module(mode="hardware", shots=200, seed=2, hardware=local(tmp_path, max_jobs=1))
    assert torch.equal(again(x), out)
    assert (again.hardware_session.jobs, again.hardware_session.reused) == (0, 1)
    # a different batch is a different job, and the guard counts only what is submitted
    again(x[:2])
    assert again.hardware_session.jobs == 1
    with pytest.raises(UserError, match="--max-jobs 1"):
        again(x[:1])


def test_journal_drops_a_record_cut_short_and_resubmits_unfinished_local_jobs(tmp_path):
    journal = JobJournal(tmp_path)
    journal.record("a", "done", "job-1", "dev", [np.array([[3, 1]])])
    journal.record("b", "submitted", "job-2", "dev")
    with open(tmp_path / FILE_NAME, "a") as handle:
        handle.write('{"key": "c", "status": "do')  # the process died mid-write
    reopened = JobJournal(tmp_path)
    assert reopened.done("a")[0].tolist() == [[3, 1]] and reopened.submitted("b") == "job-2"
    assert "c" not in reopened.records and (tmp_path / FILE_NAME).read_text().endswith("\n")
    reopened.record("c", "submitted", "job-3", "dev")
    assert len(JobJournal(tmp_path)) == 3
    session = HardwareSession(load_target("ibm_brisbane"), local(tmp_path))
    assert session.retrieve("job-2") is None  # local jobs die with their process: submit again


@pytest.mark.slow
def test_cost_estimate_matches_what_a_forward_and_backward_submit(tmp_path):
    compiled = qnnc.compile(TWO_LAYERS, target="ibm_brisbane")
    module = compiled.module(mode="hardware", shots=100, seed=0, hardware=local(tmp_path))
    cost = estimate_cost(module)
    x = features(3, 2).requires_grad_(False)
    out = module(x)
    session = module.hardware_session
    forward = cost.forward(3)
    assert (session.jobs, session.shots) == (forward.jobs, forward.shots) == (2, 2 * 3 * 100)
    out.sum().backward()
    backward = cost.backward(3)
    assert (session.jobs, session.shots) == (forward.jobs + backward.jobs, forward.shots + backward.shots)
    assert backward.jobs == 2  # the second layer shifts its weights and its input (the first is trainable)
    epoch = cost.epoch(7, 3)  # batches of 3, 3 and 1
    assert epoch.jobs == 3 * (forward.jobs + backward.jobs)
    assert epoch.shots == forward.shots * 7 // 3 + backward.shots * 7 // 3
    assert check_budget(epoch, max_jobs=11, max_shots=None) == "this run needs 12 jobs, more than --max-jobs 11"
    assert check_budget(epoch, None, epoch.shots - 1).startswith("this run needs")
    assert check_budget(epoch, 12, epoch.shots) is None


def test_shot_guard_refuses_before_submitting(brisbane, tmp_path):
    module = brisbane.module(mode="hardware", shots=100, hardware=local(tmp_path, max_shots=399))
    with pytest.raises(UserError, match="--max-shots 399"):
        module(features(4))
    assert module.hardware_session.jobs == 0 and not (tmp_path / FILE_NAME).exists()


def test_quantinuum_local_runs_offline_validated_circuits(tmp_path):
    compiled = qnnc.compile(SPEC, target="quantinuum_h2")
    x, shots = features(), 2000
    module = compiled.module(mode="hardware", shots=shots, seed=1, hardware=local(tmp_path))
    got = quantum(module)(x)
    noisy = quantum(compiled.module(mode="noisy", seed=1))(x)
    assert (got - noisy).abs().max() < 5 / np.sqrt(shots)
    assert module.hardware_session.jobs == 1 and (tmp_path / FILE_NAME).exists()
    again = compiled.module(mode="hardware", shots=shots, seed=1, hardware=local(tmp_path))
    assert torch.equal(quantum(again)(x), got) and again.hardware_session.reused == 1
    with pytest.raises(UserError, match="Quantinuum Nexus"):
        compiled.module(mode="hardware", shots=shots)  # no --local: refused with the reason


def test_account_mode_without_an_account_is_a_clear_error(brisbane, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_CHANNEL", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_URL"):
        monkeypatch.delenv(name, raising=False)
    module = brisbane.module(mode="hardware", shots=10)
    with pytest.raises(UserError, match="cannot reach IBM Quantum device `ibm_brisbane`"):
        module(features(1))


def test_no_token_is_ever_written(brisbane, monkeypatch, tmp_path):
    secret = "qnnc-test-token-5f1e9c"
    monkeypatch.setenv("QISKIT_IBM_TOKEN", secret)
    brisbane.module(mode="hardware", shots=50, hardware=local(tmp_path / "run"))(features(2))
    brisbane.write(tmp_path / "out")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == FILE_NAME for p in written)
    assert not [p for p in written if secret.encode() in p.read_bytes()]


# ---- readout mitigation ------------------------------------------------------------------------
def test_tensored_inverse_undoes_independent_readout_errors():
    rng = np.random.default_rng(1)
    target = dataclasses.replace(load_target("line_5"), readout_errors=(0.02, 0.1, 0.05, 0.2, 0.3))
    qubits = (3, 0, 4)
    p = rng.dirichlet(np.ones(8), size=4)
    assign = [np.array([[1 - e, e], [e, 1 - e]]) for e in (target.readout_error(q) for q in qubits)]
    measured = p @ np.kron(np.kron(assign[0], assign[1]), assign[2]).T
    assert np.allclose(mitigate(measured, readout_inverses(target, qubits)), p)
    with pytest.raises(ValueError, match="below 0.5"):
        readout_inverses(dataclasses.replace(target, readout_errors=(0.5,) * 5), (0,))


@pytest.mark.parametrize("gate_noise", [False, True])
def test_mitigated_backend_matches_noisy_without_readout_errors(gate_noise):
    base = load_target("line_5")
    errors = dict(readout_errors=(0.04, 0.08, 0.06, 0.1, 0.05))
    if not gate_noise:  # readout-only noise: the reference is the noise-free result
        errors.update(one_qubit_errors=(0.0,) * 5, two_qubit_errors=(0.0,) * len(base.two_qubit_errors))
    target = dataclasses.replace(base, **errors)
    compiled = qnnc.compile(SPEC, target=target)
    layer = compiled.compiled_model.layers[0]
    circuit, noise = noisy_block(layer, dataclasses.replace(target, readout_errors=(0.0,) * 5))
    reference = QuantumBlockModule(circuit, mode="noisy", noise=noise, seed=1)
    x, shots = features(6) / 5, 20_000  # small angles, no weights: <Z> near 1, where readout errors show most
    plain = quantum(compiled.module(mode="backend", shots=shots, seed=1))
    mitigated = quantum(compiled.module(mode="backend", shots=shots, seed=1, mitigate_readout=True))
    with torch.no_grad():
        for module in (reference, plain, mitigated):
            for weight in module.parameters():
                weight.zero_()
    want, plain, mitigated = reference(x), plain(x), mitigated(x)
    bound = 5 / np.sqrt(shots) / (1 - 2 * 0.1)  # the inverse scales shot noise by up to 1/(1 - 2e)
    assert (mitigated - want).abs().max() < bound
    assert (plain - want).abs().mean() > 2 * (mitigated - want).abs().mean()


def test_mitigation_is_refused_where_nothing_is_sampled(brisbane):
    with pytest.raises(ValueError, match="readout mitigation applies to sampled results"):
        brisbane.module(mode="noisy", mitigate_readout=True)


def test_quantinuum_stand_in_gives_backend_mode_values_and_gradients_exactly():
    # the stand-in runs the same bound circuits with the same noise and seeds as `backend` mode,
    # so any difference would be a binding, ordering or decoding bug of the pytket path
    compiled = qnnc.compile(SPEC, target="quantinuum_h2")
    x = features(3)
    results = []
    for mode, options in (("hardware", local()), ("backend", None)):
        layer = quantum(compiled.module(mode=mode, shots=500, seed=4, hardware=options))
        out = layer(x)
        (out * torch.arange(out.numel()).reshape(out.shape)).sum().backward()
        results.append((out.detach(), {n: p.grad.clone() for n, p in layer.named_parameters()}))
    (hw, hw_grads), (aer, aer_grads) = results
    assert torch.allclose(hw, aer, atol=1e-12) and hw_grads.keys() == aer_grads.keys() and hw_grads
    assert all(torch.allclose(hw_grads[n], aer_grads[n], atol=1e-9) for n in hw_grads)
