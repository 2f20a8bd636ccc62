#!/bin/bash
# A/A acceptance after the bounded-bootstrap change: one exclusive run per pair.
cd /work/scratch/bounded/calib/src
M=/work/scratch/bounded/calib/models
export PYTHONPATH=/work/scratch/bounded/calib/src HOME=/work/scratch/bounded/home TMPDIR=/work/scratch/bounded/tmp
for spec in "conv-1ms $M/conv-1ms/convnet_fp32.onnx $M/conv-1ms/convnet_int8.onnx 3" \
            "example examples/models/convnet_fp32.onnx examples/models/convnet_int8.onnx 10" \
            "conv-20ms $M/conv-20ms/convnet_fp32.onnx $M/conv-20ms/convnet_int8.onnx 10"; do
  set -- $spec
  echo "== $1 $(date -u +%H:%M:%S) commit 40f2a3b (frozen copy)"
  /work/bin/cpu exclusive -- bash -c "uptime; /work/venvs/bounded/bin/python benchmarks/calibrate.py --reps 20 --no-ab --only-given --pair $1 $2 $3 $4 --out /work/scratch/bounded/calib/$1.json 2> /work/scratch/bounded/calib/$1.log; uptime"
done
echo "== done $(date -u +%H:%M:%S)"
