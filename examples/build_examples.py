"""Build the example documents shipped in this folder (run: python examples/build_examples.py).

* ``investigation.docx`` — an incident investigation write-up whose headings are bold lines in
  the Normal style (no heading styles at all: the common case in real files);
* ``risk_assessment.docx`` — a risk assessment with Title/Heading styles and a risk table.

Both carry a few real-world flaws (a TBD, an action without an owner, an undefined acronym)
so that ``prism review --offline`` has something to say.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.shared import Pt

HERE = Path(__file__).resolve().parent


def _bold_heading(doc: Document, text: str) -> None:  # type: ignore[valid-type]
    run = doc.add_paragraph().add_run(text)
    run.bold = True
    run.font.size = Pt(13)


def build_investigation(path: Path) -> None:
    doc = Document()
    doc.add_paragraph(
        "Incident INV-2026-0142: payment batch duplicated for 1,842 merchant accounts. "
        "Prepared by the Payments Reliability team. Classification: internal."
    )
    _bold_heading(doc, "Executive Summary")
    doc.add_paragraph(
        "On 3 November 2026 the nightly settlement job submitted batch 7781 twice to the acquiring "
        "bank. 1,842 merchants received duplicate payouts totalling EUR 2.3 million. The duplicate "
        "was detected by the reconciliation report the next morning and 97% of the funds were "
        "recovered within five business days. No merchant data was exposed."
    )
    _bold_heading(doc, "Background")
    doc.add_paragraph(
        "The settlement service runs as a scheduled job on the batch cluster. Since the migration "
        "in September it is triggered by the new scheduler, while the legacy cron entry was kept as "
        "a fallback during the transition. Both use the same SFTP credentials to the bank."
    )
    _bold_heading(doc, "Timeline of Events")
    for line in (
        "02:00 UTC - the scheduler starts settlement run 7781.",
        "02:04 UTC - the legacy cron entry starts a second run of the same batch.",
        "02:31 UTC - both runs upload their files; the bank accepts both.",
        "08:15 UTC - the reconciliation report flags 1,842 duplicate payouts.",
        "09:40 UTC - the incident is declared and the legacy cron entry disabled.",
    ):
        doc.add_paragraph(line, style="List Bullet")
    _bold_heading(doc, "Impact")
    doc.add_paragraph(
        "Duplicate payouts of EUR 2.3 million; EUR 69,000 is still being recovered. Merchant "
        "support handled 412 contacts. The SLA with the bank was not breached. Customer impact "
        "on the checkout flow: TBD."
    )
    _bold_heading(doc, "Root Cause")
    doc.add_paragraph(
        "The idempotency key of a settlement run is derived from the run start time rather than "
        "the batch id, so two runs of the same batch were not recognised as duplicates by the SFTP "
        "gateway, and the decommissioning checklist for the cron entry was never completed because "
        "the owner of the migration left the team and the task was not reassigned to anyone, which "
        "meant that the fallback stayed enabled for seven weeks after the cut-over date without any "
        "alerting on concurrent runs of the same job."
    )
    _bold_heading(doc, "Corrective and Preventive Actions")
    doc.add_paragraph(
        "Derive the idempotency key from the batch id. Owner: J. Okafor, due 20 Nov 2026."
    )
    doc.add_paragraph("Remove the legacy cron entry from all batch hosts.")
    doc.add_paragraph("Add an alert on concurrent settlement runs via the SRE on-call.")
    _bold_heading(doc, "Evidence")
    doc.add_paragraph(
        "Scheduler logs for run 7781, cron logs from host batch-03, the bank's acknowledgement "
        "files and the reconciliation report of 4 November are attached in the incident folder."
    )
    doc.save(str(path))


def build_risk_assessment(path: Path) -> None:
    doc = Document()
    doc.add_heading("Risk Assessment: Warehouse Automation Pilot", level=0)
    doc.add_heading("Executive Summary", level=1)
    doc.add_paragraph(
        "The pilot introduces 24 autonomous mobile robots (AMRs) in the Leipzig warehouse from "
        "January 2027. Overall residual risk is assessed as medium, driven by collision risk in "
        "shared aisles and by dependency on a single vendor for maintenance."
    )
    doc.add_heading("Scope and Methodology", level=1)
    doc.add_paragraph(
        "The assessment covers safety, operational continuity, data protection and vendor risk "
        "for the pilot area only. Likelihood and impact are rated from 1 to 5; the score is "
        "their product. Workshops were held with operations, safety and IT on 14 and 21 October."
    )
    doc.add_heading("Risk Register", level=1)
    table = doc.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    for cell, text in zip(
        table.rows[0].cells, ("ID", "Risk", "Likelihood", "Impact", "Mitigation"), strict=True
    ):
        cell.text = text
    for row in (
        (
            "R1",
            "Collision between AMR and staff in shared aisles",
            "3",
            "5",
            "Speed limits, lidar zones, marked crossings",
        ),
        ("R2", "Vendor maintenance unavailable for more than 48 hours", "2", "4", "XX-XXX-XXXX"),
        ("R3", "WMS integration failure halts picking", "3", "4", "Manual fallback procedure"),
        ("R4", "Personal data captured by onboard cameras", "2", "3", "TBD"),
    ):
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text
    doc.add_heading("Collision Risk", level=2)
    doc.add_paragraph(
        "R1 has the highest score (15). The vendor's safety case assumes segregated aisles, which "
        "the Leipzig layout does not provide on the mezzanine."
    )
    doc.add_heading("Data Protection", level=2)
    doc.add_paragraph(
        "A DPIA has not been started. Camera footage retention is set by the vendor's default."
    )
    doc.add_heading("Recommendations", level=1)
    doc.add_paragraph("Complete the DPIA before go-live.", style="List Number")
    doc.add_paragraph("Negotiate a 24-hour maintenance SLA with the vendor.", style="List Number")
    doc.add_paragraph(
        "Pilot sign-off by the site safety officer by 15 December 2026.", style="List Number"
    )
    doc.save(str(path))


if __name__ == "__main__":
    build_investigation(HERE / "investigation.docx")
    build_risk_assessment(HERE / "risk_assessment.docx")
    print("wrote", HERE / "investigation.docx", "and", HERE / "risk_assessment.docx")
