"""Conformance of vpnjob-sim with a client nobody here wrote.

The official Huawei Cloud Python SDK (huaweicloudsdkcore + huaweicloudsdkvpn, pinned
in requirements.txt) lists jobs from vpnjob-sim through marker pagination, and gets
a wrong-key request refused the way the cloud's API gateway refuses it. If our
simulator's signature check or paging drifted from the real protocol, the SDK
would be the one to notice.

Run by `make test` (target `conformance`), which builds vpnjob-sim and sets
VPNJOB_SIM to its path.
"""

import json
import os
import pathlib
import subprocess

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkvpn.v5 import ListVpnGatewayJobsRequest, VpnClient

HERE = pathlib.Path(__file__).parent
SCENARIO = HERE / "multipage.yaml"
PROJECT = "0123456789abcdef0123456789abcdef"
GATEWAY = "f8576538-0ffa-45d7-97f5-9783e0228cb5"
AK = "CONFORMANCEAK0000001"
SK = "conformance-secret-key-0000000000000001"

@pytest.fixture(scope="module")
def simulator():
    binary = os.environ.get("VPNJOB_SIM")
    assert binary, "set VPNJOB_SIM to the vpnjob-sim binary (make test does)"
    proc = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--scenario", str(SCENARIO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("vpnjob-sim listening on "), line or proc.stderr.read()
        yield line.rsplit(" ", 1)[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)

def client(url, sk=SK):
    config = HttpConfig.get_default_config()
    config.timeout = (5, 10)
    return (
        VpnClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(AK, sk, PROJECT))
        .with_endpoints([url])
        .build()
    )

def test_sdk_lists_every_job_through_marker_pagination(simulator):
    sdk = client(simulator)
    seen, markers, pages = [], [], 0
    marker = None
    while True:
        request = ListVpnGatewayJobsRequest(resource_id=GATEWAY, limit=3)
        if marker is not None:
            request.marker = marker
        response = sdk.list_vpn_gateway_jobs(request)
        pages += 1
        # The SDK's response model has no page_info; the raw body does.
        body = json.loads(response.raw_content)
        assert [j.id for j in response.jobs] == [j["id"] for j in body["jobs"]]
        seen.extend(j.id for j in response.jobs)
        marker = body.get("page_info", {}).get("next_marker")
        if not marker:
            break
        assert marker not in markers, "the simulator repeated a marker"
        markers.append(marker)
        assert pages < 20
    want = json.loads((HERE / "multipage.expected.json").read_text())
    assert pages == want["pages"]
    assert seen == want["job_ids"]
    assert len(set(seen)) == len(seen)

def test_sdk_decodes_job_fields_from_the_simulator(simulator):
    response = client(simulator).list_vpn_gateway_jobs(
        ListVpnGatewayJobsRequest(resource_id=GATEWAY, limit=200)
    )
    newest = response.jobs[0]
    assert newest.status == "upgrading"
    assert newest.job_type == "upgrade"
    assert newest.resource_id == GATEWAY
    assert [s.job_type for s in newest.sub_jobs][:2] == ["prepare_resource", "upgrade_worker_1"]

def test_wrong_secret_key_is_a_401_client_request_exception_apigw_0301(simulator):
    with pytest.raises(ClientRequestException) as caught:
        client(simulator, sk="not-the-secret-key").list_vpn_gateway_jobs(
            ListVpnGatewayJobsRequest(resource_id=GATEWAY, limit=3)
        )
    assert caught.value.status_code == 401
    assert caught.value.error_code == "APIGW.0301"
    assert caught.value.request_id, "the request id must reach the SDK"
