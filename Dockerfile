# Headless warehouse_sim: training, evaluation and video recording (no display needed).
# Python 3.11: pybullet publishes wheels up to CPython 3.11 (on 3.12+ pip compiles it).
FROM python:3.11-slim

WORKDIR /opt/warehouse_sim
COPY pyproject.toml README.md ./
COPY warehouse_sim ./warehouse_sim
COPY assets ./assets
COPY training ./training

# The README's install step: CPU torch first (an unpinned torch pulls a multi-GB CUDA build).
RUN pip install --no-cache-dir torch==2.13.0 && pip install --no-cache-dir ".[train]"

# The README's main job: train PPO on Navigation-v0, then print its evaluation.
ENTRYPOINT ["warehouse-sim"]
CMD ["train"]
