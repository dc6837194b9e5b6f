"""How tests/data/session_before_22.json was made, once, with prism before #22 (section numbers
as a field of their own): a stored session of numbered_before_22.docx, whose headings carry Word
list numbers and a typed number. Kept for the record; rerunning it with a later prism proves nothing."""
from pathlib import Path
sys.path.insert(0, "/work/main/tests")
tmp = Path(tempfile.mkdtemp())
for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
             "AWS_CONFIG_FILE": str(tmp / "c"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "k"), "AWS_EC2_METADATA_DISABLED": "true",
             "NO_COLOR": "1", "XDG_DATA_HOME": str(tmp / "d"), "XDG_CONFIG_HOME": str(tmp / "cfg"), "XDG_CACHE_HOME": str(tmp / "cache")}.items():
    os.environ[k] = v
os.environ.pop("PRISM_STORE", None)
from docbuilder import make_docx, p
from fake_bedrock import FakeBedrock
fake = FakeBedrock().start()
os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = os.environ["AWS_ENDPOINT_URL_BEDROCK"] = os.environ["AWS_ENDPOINT_URL_SERVICE_QUOTAS"] = fake.url
body = (
    p("Numbered plan", style="Heading1", num=(1, 0))
    + p("The batch was sent twice on Monday and nobody noticed until the audit in March.")
    + p("2.1 Scope of the review", style="Heading2")
    + p("Owners must confirm the dates; the team will fix the retry logic by Friday.")
    + p("Findings", style="Heading1", num=(1, 0))
    + p("TBD: somebody should look at the logs, and maybe the alerts, at some point.")
)
doc = Path("/work/main/tests/data/numbered_before_22.docx")
make_docx(doc, body)
from conftest import run_prism
res = run_prism("review", "--region", "us-east-1", str(doc), "-f", "json", "--no-rules")
assert res.code == 0, res.stderr
report = json.loads(res.stdout)
from prism_cli.stores.disk import DiskStore
store_dir = tmp / "d" / "prism"
cands = [q for q in store_dir.rglob("cache.db")]
store = DiskStore(cands[0].parent)
data = {k: base64.b64encode(store.get(k)).decode() for k in store.list("")}
out = {"about": "A session stored by prism before #22 (section numbers as a field of their own), of numbered_before_22.docx; tests/test_sections_real.py checks a rerun reuses it whole.",
       "store": data, "report": {"sections": [[s["id"], s["title"]] for s in report["documents"][0]["sections"]], "finding_ids": sorted(f["id"] for f in report["documents"][0]["findings"])}}
Path("/work/main/tests/data/session_before_22.json").write_text(json.dumps(out, indent=1) + "\n")
print(len(data), out["report"], cands[0].parent.relative_to(tmp))
fake.stop()
