# Headless warehouse_sim: training, evaluation and video recording (no display needed).
# Python 3.11: pybullet publishes wheels up to CPython 3.11 (on 3.12+ pip compiles it).
FROM python:3.11-slim

WORKDIR /opt/warehouse_sim
COPY pyproject.toml README.md ./
COPY warehouse_sim ./warehouse_sim
COPY assets ./assets
COPY training ./training

# The README's install step. On machines whose pip index serves the CUDA build by default,
# the CPU build comes from PyTorch's CPU index (README, "Set up"). For the nodes of a Ray
# cluster (README, "Scaling out"): docker build --build-arg EXTRAS=train,ray -t warehouse-sim:ray .
ARG EXTRAS=train
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu && pip install --no-cache-dir ".[${EXTRAS}]"

# The README's main job: train PPO on Navigation-v0, then print its evaluation.
ENTRYPOINT ["warehouse-sim"]
CMD ["train"]
