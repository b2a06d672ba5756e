# The lake's S3 server for docker-compose.yml: S3Proxy with its filesystem backend, the same
# pinned jar (version and SHA-256) that lakehouse/jars.py fetches for the native stack.
# The base is a build argument (docker-compose.yml passes PYTHON_IMAGE): upstream by default.
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm
FROM ${PYTHON_IMAGE}

ARG S3PROXY_VERSION=4.1.0
ARG S3PROXY_SHA256=a4d025969aaf796616ed4b1e2491d87d455ce84bb28cb9db086b2e6aaa68b48d

RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless maven curl \
    && rm -rf /var/lib/apt/lists/*

RUN mvn --batch-mode --quiet --strict-checksums dependency:copy \
        -Dartifact=org.gaul:s3proxy:${S3PROXY_VERSION}:jar:jar-with-dependencies -DoutputDirectory=/opt \
    && echo "${S3PROXY_SHA256}  /opt/s3proxy-${S3PROXY_VERSION}-jar-with-dependencies.jar" | sha256sum -c - \
    && mv /opt/s3proxy-${S3PROXY_VERSION}-jar-with-dependencies.jar /opt/s3proxy.jar \
    && rm -rf /root/.m2

# Objects are files under /data (compose mounts a named volume there).
VOLUME /data
EXPOSE 4580
# 0.0.0.0 inside the container only; compose publishes the port on the host's 127.0.0.1.
CMD ["sh", "-c", "printf '%s\\n' \
    's3proxy.endpoint=http://0.0.0.0:4580' \
    's3proxy.authorization=aws-v2-or-v4' \
    \"s3proxy.identity=${S3_IDENTITY:-test}\" \
    \"s3proxy.credential=${S3_CREDENTIAL:-test}\" \
    'jclouds.provider=filesystem-nio2' \
    \"jclouds.identity=${S3_IDENTITY:-test}\" \
    \"jclouds.credential=${S3_CREDENTIAL:-test}\" \
    'jclouds.filesystem.basedir=/data' > /tmp/s3proxy.properties \
    && find /data -type f -regextype posix-extended \
         -regex '.*-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' -delete \
    && exec java -Xmx256m -XX:+UseSerialGC -jar /opt/s3proxy.jar --properties /tmp/s3proxy.properties"]
