#!/usr/bin/env python3
"""Writes the example scenarios next to this file: upgrade-success.yaml,
upgrade-failed.yaml, rollback.yaml and all.yaml.

Run `python3 examples/scenarios/generate.py` after changing a job's script
below; the output is deterministic (fixed seed), so unchanged jobs keep their
timestamps. The YAML files are committed; this script only saves hand-editing
hundreds of near-identical lines.
"""
import json, os, random
from datetime import datetime, timedelta, timezone

random.seed(20260318)
AK = "DEMOACCESSKEY0000001"
SK = "demoSecretKey0ForVpnjobSimOnly0000000001"
assert len(SK) == 40
PROJECT = "9f3c2a1b7e5d4c6f8a0b1c2d3e4f5a6b"

def ts(dt):
    """RFC 3339 with 6-9 fractional digits, trailing zeros trimmed like the API."""
    digits = random.choice([6, 6, 7, 8, 9, 9])
    frac = random.randrange(10 ** (digits - 1), 10 ** digits)
    while frac % 10 == 0:
        frac += 1
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + "." + str(frac) + "Z"

def parse(s):
    return datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)

STEPS = ["prepare_resource", "upgrade_worker_1", "migrate_traffic_1", "migrate_network_1",
         "service_ready_check_1", "upgrade_worker_2", "migrate_traffic_2", "migrate_network_2",
         "service_ready_check_2"]

class Gateway:
    def __init__(self, name, gw_id, job_id, sub_ids, created, ips, durations, start=2,
                 fail=None, confirm_after=None, rollback=None):
        self.name, self.gw_id, self.job_id = name, gw_id, job_id
        self.created = created  # string
        self.c = parse(created)
        self.ips = ips
        self.durations = durations
        self.start = start
        self.fail = fail  # (step index, seconds into it, sub error, job error)
        self.confirm_after = confirm_after  # seconds in pending before success
        self.rollback = rollback  # (pending seconds, rollback seconds)
        # step windows
        self.windows = []
        t = start
        for d in durations:
            self.windows.append((t, t + d))
            t += d
        self.end = t
        self.sub_created = [ts(self.c - timedelta(milliseconds=480 - 40 * i)) for i in range(9)]
        self.sub_ids = sub_ids
        self.finished = {}  # cache of finished_at strings per key

    def fin(self, key, seconds):
        if key not in self.finished:
            self.finished[key] = ts(self.c + timedelta(seconds=seconds))
        return self.finished[key]

    def entity(self, i):
        step = STEPS[i]
        if step.endswith("_1"):
            return {"ip_address": self.ips[0]}
        if step.endswith("_2"):
            return {"ip_address": self.ips[1]}
        return {}

    def sub(self, i, status, expected, finished=None, error=None):
        d = {"id": self.sub_ids[i], "job_type": STEPS[i], "entity": self.entity(i),
             "status": status, "expected_time_seconds": expected,
             "created_at": self.sub_created[i]}
        if finished:
            d["finished_at"] = finished
        if error:
            d["error_message"] = error
        return d

    def change_times(self):
        times = {0, self.start}
        for (s, e) in self.windows:
            if self.fail and self.windows.index((s, e)) > self.fail[0]:
                break
            times.add(s)
            if e - s >= 4:
                times.add(s + (e - s) // 2)
            times.add(e)
        if self.fail:
            i, into, _, _ = self.fail
            s, e = self.windows[i]
            times = {t for t in times if t <= s + into}
            times.add(s + into)
            return sorted(times)
        times.add(self.end)
        if self.confirm_after:
            times.add(self.end + self.confirm_after)
        if self.rollback:
            pend, rb = self.rollback
            for k in range(0, rb, 5):
                times.add(self.end + pend + k)
            times.add(self.end + pend + rb)
        return sorted(times)

    def state(self, t):
        """(job dict, short description) at scenario time t."""
        job = {"id": self.job_id, "resource_id": self.gw_id, "job_type": "upgrade"}
        subs = []
        desc = None
        total_estimate = self.end + 3
        if t < self.start:
            job["status"] = "init"
            job["expected_time_seconds"] = total_estimate
            subs = [self.sub(i, "init", d) for i, d in enumerate(self.durations)]
            desc = "init: upgrade accepted, no step running yet"
        else:
            failed = None
            if self.fail:
                fi, into, sub_err, job_err = self.fail
                fs = self.windows[fi][0] + into
                if t >= fs:
                    failed = (fi, fs, sub_err, job_err)
            for i, (s, e) in enumerate(self.windows):
                if failed and i == failed[0]:
                    subs.append(self.sub(i, "fail", 0, self.fin(("sub", i), failed[1]), failed[2]))
                    desc = desc or f"fail: {STEPS[i]} failed"
                elif failed and i > failed[0]:
                    subs.append(self.sub(i, "init", self.durations[i]))
                elif t >= e:
                    subs.append(self.sub(i, "success", 0, self.fin(("sub", i), e)))
                elif t >= s:
                    status = "upgrading" if STEPS[i].startswith("upgrade_worker") else "running"
                    subs.append(self.sub(i, status, e - t))
                    desc = desc or f"upgrading: {STEPS[i]} {status}, {e - t}s left"
                else:
                    subs.append(self.sub(i, "init", self.durations[i]))
            if failed:
                job["status"] = "fail"
                job["expected_time_seconds"] = 0
                job["finished_at"] = self.fin("job", failed[1])
                job["error_message"] = failed[3]
            elif t < self.end:
                job["status"] = "upgrading"
                job["expected_time_seconds"] = self.end - t + 3
            else:
                job["expected_time_seconds"] = 0
                job["status"] = "pending_upgrade_confirm"
                desc = "pending_upgrade_confirm: every step done, waiting for finish or rollback"
                if self.confirm_after and t >= self.end + self.confirm_after:
                    job["status"] = "success"
                    job["finished_at"] = self.fin("job", self.end + self.confirm_after)
                    desc = "success: upgrade confirmed"
                if self.rollback:
                    pend, rb = self.rollback
                    rs = self.end + pend
                    if t >= rs + rb:
                        job["status"] = "rollback_success"
                        job["finished_at"] = self.fin("job", rs + rb)
                        desc = "rollback_success: back on the previous version"
                    elif t >= rs:
                        job["status"] = "rolling_back"
                        job["expected_time_seconds"] = rs + rb - t
                        desc = f"rolling_back: {rs + rb - t}s left"
        job["created_at"] = self.created
        if "finished_at" in job:
            pass
        job["sub_jobs"] = subs
        # key order as the API example: id, resource_id, job_type, status, expected, created, finished, error, sub_jobs
        order = ["id", "resource_id", "job_type", "status", "expected_time_seconds", "created_at",
                 "finished_at", "error_message", "sub_jobs"]
        return {k: job[k] for k in order if k in job}, desc


def last_month_job():
    c = datetime(2026, 2, 17, 9, 12, 31, tzinfo=timezone.utc)
    subs = []
    t = 4
    ids = ["0b7d3f61-92a4-4c1e-8d55-6e2f9a13c7b0", "5c21e8a4-7f0b-4d93-a6e1-3b9c0d2f84a7",
           "a93f0c27-1d6e-4b58-9c04-7e2a5b8d1f36", "e4a81b5c-3f92-4a07-b6d8-0c5e7f2a9d13",
           "17c6d9e2-8a4b-4f31-95e0-d2b7a3c8f146", "6f0e2a93-b5c7-4d18-8e4a-91d3c6b0f725",
           "d2b5f817-4c09-4e6a-a3d1-58e7f0c92b64", "38e9a4c1-0d7f-4b25-9f6e-a1c3d5b7e890",
           "9a1c7e53-6b2d-4f84-b0e9-2f4a8c6d1e37"]
    created = [ts(c - timedelta(milliseconds=500 - 37 * i)) for i in range(9)]
    for i, step in enumerate(STEPS):
        t += [7, 9, 5, 6, 4, 9, 5, 6, 4][i]
        ent = {"ip_address": "192.168.10.2"} if step.endswith("_1") else (
            {"ip_address": "192.168.10.20"} if step.endswith("_2") else {})
        subs.append({"id": ids[i], "job_type": step, "entity": ent, "status": "success",
                     "expected_time_seconds": 0, "created_at": created[i],
                     "finished_at": ts(c + timedelta(seconds=t))})
    return {"id": "2e9b4d71-5a8c-4f06-b3e2-7d1c9a05f8e4",
            "resource_id": "3d8f6a2e-5b1c-4e7a-9f0d-2c4b6e8a1d3f",
            "job_type": "upgrade", "status": "success", "expected_time_seconds": 0,
            "created_at": ts(c), "finished_at": ts(c + timedelta(seconds=t + 31)),
            "sub_jobs": subs}

GW_A = Gateway("gateway A", "3d8f6a2e-5b1c-4e7a-9f0d-2c4b6e8a1d3f", "b4c0e7a2-61d9-4f3b-8a25-c9e1d7f04b68",
               ["c1a7e3b9-0f42-4d6e-9b18-5e3a7c2d0f94", "4e8b2d61-a93c-4f07-b5e2-1d6c8a0f3b79",
                "f2d9a4c7-5b1e-4a83-9c60-7e2b1d4f8a35", "8b3e0f15-d2a7-4c69-a4e8-0f5c3b9d2e61",
                "2a6c9e47-1f3d-4b80-8e5a-d7b2c0f49e13", "d7f1b3a8-6c0e-4295-b1d4-3a8e5f2c7b06",
                "5e0a8c26-b7d4-4f19-93e2-c6a1f0d8b547", "a1d4f7b0-3e6c-4a52-8f97-2b5d0e9c3a18",
                "69c2e5f8-0a3b-4d71-a6c4-e9f1b7d2058c"],
               "2026-03-18T15:08:53.679462Z", ("192.168.10.2", "192.168.10.20"),
               [6, 6, 4, 4, 3, 6, 4, 4, 3], confirm_after=10)

GW_B = Gateway("gateway B", "7a1e4c9b-2d5f-4b8a-a6c3-9e0f1b2d4c6a", "e8d2a5f1-7c4b-4e90-b3a6-15f9c0d7e2b4",
               ["3f7b1d9e-c2a8-4b64-9e05-8d1a6f3c7b20", "b9e4c2a7-5d0f-4c38-a1b6-e7f3d0a9c524",
                "06d8f3b1-e4a9-4725-8c3e-b2f7a1d5e690", "c4a1e8d7-9b3f-4e06-b5a2-3f0d6c1e8b79",
                "7e2f5b0c-a1d6-4983-9f4b-c8e0a3d7f162", "1b5d9a3e-f7c2-4a08-b6e4-9d2c5f1a0e83",
                "e0c3a7f9-4b2d-4e51-8a96-0f7b3d1c5e28", "92f6d1c4-8e0b-4b37-a5f9-e3c7a2d6b014",
                "5a9e3c0f-d6b1-4f72-8c28-b4e1f7a0d395"],
               "2026-03-18T15:20:07.318804216Z", ("192.168.20.2", "192.168.20.20"),
               [5, 6, 8, 4, 3, 6, 4, 4, 3],
               fail=(2, 5, "migrate traffic to 192.168.20.2 failed: BGP session did not re-establish within 300s",
                     "VPN gateway upgrade failed at step migrate_traffic_1; the gateway still runs the previous version"))

GW_C = Gateway("gateway C", "c5b2e8d1-6f3a-4d9c-8e7b-1a0f3c5e7b92", "41f7c9e3-0b6d-4a28-9e5c-d3a8f1b6e027",
               ["8d0e4b7a-2c9f-4153-a6e8-f1b3d5c7a940", "f5a2c8e1-7d3b-4f06-9b4a-0e6c2d8f1a73",
                "2c7e1a9d-b4f0-4836-8d2e-5a9f3c0b7e14", "b0f8d3a6-1e5c-4a97-b2d0-c6e4a8f3d159",
                "6a3d0c8f-e2b7-4e15-9a6c-1f8d4b0e3a72", "e9b1f5c2-4a0d-4b68-a3f7-d5c9e2a6b081",
                "34c8a2e6-f0b9-4d51-8e3a-7b1d6f9c0e25", "d1e6b9f4-7c3a-4029-b8d5-2e0f5a3c9b67",
                "7f4a0d3b-9e6c-4f82-a1b5-c8e2d7f0a346"],
               "2026-03-18T15:31:44.902517Z", ("192.168.30.2", "192.168.30.20"),
               [3, 3, 2, 2, 2, 3, 2, 2, 2], rollback=(10, 20))

class Emitter:
    def __init__(self):
        self.anchors = {}
        self.lines = []

    def value(self, v):
        return json.dumps(v, ensure_ascii=False)

    def flow(self, d, anchor_name=None):
        key = json.dumps(d, sort_keys=True)
        if key in self.anchors:
            return "*" + self.anchors[key]
        body = "{" + ", ".join(f"{k}: {self.value(v)}" for k, v in d.items()) + "}"
        if anchor_name:
            self.anchors[key] = anchor_name
            return f"&{anchor_name} {body}"
        return body

    def job(self, job, indent, anchor_prefix, anchor_job=None):
        pad = " " * indent
        key = json.dumps(job, sort_keys=True)
        if key in self.anchors:
            self.lines.append(f"{pad}- *{self.anchors[key]}")
            return
        if anchor_job:
            self.anchors[key] = anchor_job
            self.lines.append(f"{pad}- &{anchor_job}")
            first = f"{pad}  "
        else:
            first = f"{pad}- "
        lead = first
        for k, v in job.items():
            if k == "sub_jobs":
                self.lines.append(f"{lead}sub_jobs:")
                for s in v:
                    name = None
                    if s["status"] in ("success", "fail"):
                        name = f"{anchor_prefix}-{s['job_type'].replace('_', '-')}-{s['status']}"
                    self.lines.append(f"{pad}    - {self.flow(s, name)}")
            else:
                self.lines.append(f"{lead}{k}: {self.value(v)}")
            lead = f"{pad}  "


HEADER = """# Demo-only credentials: not a real Huawei Cloud key. Sign requests with them
# against vpnjob-sim only.
credentials:
  - accessKey: {ak}
    secretKey: {sk}
"""

def scenario(path, intro, gateways, with_old, prefixes):
    em = Emitter()
    times = sorted(set(t for g in gateways for t in g.change_times()))
    old = last_month_job() if with_old else None
    out = [l for l in intro.strip("\n").split("\n")]
    out.append("#")
    out.append("# Generated: each timeline entry is the complete job list at that moment.")
    out.append("# Finished sub-jobs and the older job are written once with a YAML anchor")
    out.append("# (&name) and repeated with an alias (*name).")
    out += HEADER.format(ak=AK, sk=SK).rstrip("\n").split("\n")
    out.append("projects:")
    out.append(f'  "{PROJECT}":')
    out.append("    timeline:")
    for t in times:
        descs = []
        jobs = []
        for g, p in zip(gateways, prefixes):
            job, desc = g.state(t)
            jobs.append((job, p))
            if desc and (len(gateways) == 1):
                descs.append(desc)
            elif desc:
                descs.append(f"{p}: {desc.split(':')[0]}")
        comment = "; ".join(descs)
        em.lines = []
        # newest first in the file too (the simulator sorts anyway)
        for job, p in sorted(jobs, key=lambda jp: jp[0]["created_at"], reverse=True):
            em.job(job, 8, p)
        if old:
            em.job(old, 8, "last-month", anchor_job="last-month-upgrade")
        out.append(f"      - at: {t}s" + (f"  # {comment}" if comment else ""))
        out.append("        jobs:")
        out += em.lines
    open(path, "w").write("\n".join(out) + "\n")

D = os.path.dirname(os.path.abspath(__file__)) + "/"
scenario(D + "upgrade-success.yaml", """
# upgrade-success: one VPN gateway upgrades cleanly.
#
# Gateway 3d8f6a2e-5b1c-4e7a-9f0d-2c4b6e8a1d3f, job b4c0e7a2-61d9-4f3b-8a25-c9e1d7f04b68:
#   0s init -> 2s upgrading (nine steps, one after another, each sub-job's
#   expected_time_seconds counting down) -> 42s pending_upgrade_confirm -> 52s success.
# The same gateway also has a finished upgrade from last month (2026-02-17), so a
# watch's notBefore decides which job it follows.
""", [GW_A], True, ["gw-a"])

scenario(D + "upgrade-failed.yaml", """
# upgrade-failed: an upgrade fails while migrating traffic.
#
# Gateway 7a1e4c9b-2d5f-4b8a-a6c3-9e0f1b2d4c6a, job e8d2a5f1-7c4b-4e90-b3a6-15f9c0d7e2b4:
#   0s init -> 2s upgrading -> 18s fail. The failing sub-job (migrate_traffic_1)
#   and the job carry an error_message; the steps after it stay init.
""", [GW_B], False, ["gw-b"])

scenario(D + "rollback.yaml", """
# rollback: an upgrade is rolled back instead of confirmed.
#
# Gateway c5b2e8d1-6f3a-4d9c-8e7b-1a0f3c5e7b92, job 41f7c9e3-0b6d-4a28-9e5c-d3a8f1b6e027:
#   0s init -> 2s upgrading -> 23s pending_upgrade_confirm -> 33s rolling_back
#   (expected_time_seconds counting down) -> 53s rollback_success.
# Whether the real API keeps the job ID and job_type for a rollback is unverified;
# this scenario keeps both.
""", [GW_C], False, ["gw-c"])

scenario(D + "all.yaml", """
# all: the three other scenarios at once, in one project, for the demo.
#
#   gw-a 3d8f6a2e-5b1c-4e7a-9f0d-2c4b6e8a1d3f: upgrade-success (success at 52s,
#        plus last month's finished upgrade)
#   gw-b 7a1e4c9b-2d5f-4b8a-a6c3-9e0f1b2d4c6a: upgrade-failed (fail at 18s)
#   gw-c c5b2e8d1-6f3a-4d9c-8e7b-1a0f3c5e7b92: rollback (rollback_success at 53s)
# All three upgrades start at 0s. Filter with resource_id to see one gateway.
""", [GW_A, GW_B, GW_C], True, ["gw-a", "gw-b", "gw-c"])
