#!/bin/bash
# Runs a Kafka class with the image's jars: the broker logs at INFO to stdout, the command-line tools at WARN to stderr.
set -euo pipefail
log_config=/opt/kafka/config/tools-log4j2.properties
heap="${KAFKA_HEAP_OPTS:--Xmx256m}"
if [[ "$1" == kafka.Kafka ]]; then
  log_config=/opt/kafka/config/log4j2.properties
  heap="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
fi
# shellcheck disable=SC2086 # the *_OPTS variables are lists of JVM options
exec java $heap -XX:+UseG1GC -Djava.awt.headless=true ${KAFKA_OPTS:-} \
  "-Dlog4j2.configurationFile=$log_config" -cp "/opt/kafka/libs/*" "$@"
