# trueup's container image: `trueup serve` (see deploy/helm/trueup for running it in a cluster).
# Runtime dependencies are installed at the versions pinned in requirements.lock.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
RUN python -m venv /opt/trueup \
 && /opt/trueup/bin/pip install --no-cache-dir --constraint requirements.lock .

FROM python:3.11-slim
# git: the git source clones and fetches with the git command line.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --home-dir /home/trueup trueup \
 && mkdir -p /var/lib/trueup /etc/trueup \
 && chown trueup /var/lib/trueup
COPY --from=build /opt/trueup /opt/trueup
ENV PATH=/opt/trueup/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TRUEUP_CONFIG=/etc/trueup/trueup.yaml
USER 10001
WORKDIR /var/lib/trueup
EXPOSE 8470
ENTRYPOINT ["trueup"]
CMD ["serve", "--listen", "0.0.0.0:8470"]
