"""What a Beam SDK container's boot program does before starting a Python worker, minus installing
artifacts (the worker's virtualenv already holds the staged sdist): ask the runner's provision
service for the pipeline options, then start `sdk_worker_main` with them, so the worker's
filesystems (S3 endpoint, credentials) are configured as on Dataflow, Flink or Spark.

Started by `worker_pool_main --container_executable` with --id, --provision_endpoint,
--control_endpoint, --logging_endpoint and --artifact_endpoint.
"""
import argparse
import json
import os
import sys

import grpc
from apache_beam.portability.api import beam_provision_api_pb2, beam_provision_api_pb2_grpc
from google.protobuf import json_format


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--id", "--provision_endpoint", "--control_endpoint", "--logging_endpoint", "--artifact_endpoint"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    with grpc.insecure_channel(args.provision_endpoint) as channel:
        info = beam_provision_api_pb2_grpc.ProvisionServiceStub(channel).GetProvisionInfo(
            beam_provision_api_pb2.GetProvisionInfoRequest(), metadata=[("worker_id", args.id)]).info
    env = dict(os.environ)
    env["WORKER_ID"] = args.id
    # Keys as the runner sends them ("beam:option:<name>:v1"); sdk_worker_main strips the URN parts.
    env["PIPELINE_OPTIONS"] = json.dumps(json_format.MessageToDict(info.pipeline_options))
    env["CONTROL_API_SERVICE_DESCRIPTOR"] = f"url: '{args.control_endpoint}'"
    env["LOGGING_API_SERVICE_DESCRIPTOR"] = f"url: '{args.logging_endpoint}'"
    os.execve(sys.executable, [sys.executable, "-m", "apache_beam.runners.worker.sdk_worker_main"], env)


if __name__ == "__main__":
    main()
