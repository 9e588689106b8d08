"""Writes the small .pt files used by test/pt.test.ts (run with /usr/bin/python3 from this folder).

Each case is saved with torch.save and its expected float32 values are written next to it
as JSON, so the TypeScript reader is checked against torch itself.
"""
import json
import torch

torch.manual_seed(7)
cases = {}

def save(name, sd):
    torch.save(sd, f"{name}.pt")
    cases[name] = {k: {"shape": list(v.shape), "data": v.float().flatten().tolist()} for k, v in sd.items()}

lin = torch.nn.Linear(6, 1)
save("sparse_fp16", {k: v.half() for k, v in lin.state_dict().items()})
save("sparse_fp32", lin.state_dict())
col = torch.nn.Linear(6, 6)
save("colbert_bf16", {k: v.bfloat16() for k, v in col.state_dict().items()})
# A module's own state_dict (OrderedDict with _metadata), fp16 like BAAI/bge-m3.
save("colbert_module_fp16", col.half().state_dict())
# Views: a transposed weight and a slice with a storage offset, sharing one storage.
base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
save("views", {"weight": base.t(), "bias": base[2, 1:5], "scalar": torch.tensor(3.5, dtype=torch.float64)})
with open("expected.json", "w") as f:
    json.dump(cases, f)

# The same archive re-packed with deflate compression (some tools re-zip files).
import zipfile
with zipfile.ZipFile("sparse_fp16.pt") as src, zipfile.ZipFile("deflated.pt", "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        dst.writestr(info.filename, src.read(info.filename))
