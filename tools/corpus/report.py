#!/usr/bin/env python3
"""Per-family results of a ballotscan scan against the independent corpus' truth.

    python3 tools/corpus/report.py CORPUS_DIR [RESULT_DIR]   # RESULT_DIR defaults to CORPUS_DIR/result

For each family (truth.csv's `profile`):
- pages, and how ballots.csv classed them (counted / invalid / review / rejected);
- rejected pages with their reasons, and how many of them zbar could read (pages.csv);
- box errors, as `ballotscan check` counts them (a definite mark read empty, an unmarked box
  read marked; marginal marks never count);
- answer errors: a question whose answer is neither the expected one, nor an acceptable one,
  nor REVIEW; "silent" when the ballot was counted or invalid (no person is asked to look).
"""

import csv
import os
import sys
from collections import Counter, defaultdict


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    corpus = argv[1]
    result = argv[2] if len(argv) > 2 else os.path.join(corpus, "result")
    truth = read_csv(os.path.join(corpus, "truth.csv"))
    pages = {r["source"]: r for r in read_csv(os.path.join(corpus, "pages.csv"))}
    ballots = {os.path.basename(r["source"]): r for r in read_csv(os.path.join(result, "ballots.csv"))}
    answers = {(os.path.basename(r["source"]), r["question"]): r for r in read_csv(os.path.join(result, "answers.csv"))}

    fam = defaultdict(lambda: Counter())
    rejected = defaultdict(list)
    errors = defaultdict(list)
    missed_by_style = Counter()
    definite_by_style = Counter()
    seen_pages = set()
    for t in truth:
        src, f = t["source"], t["profile"]
        b = ballots.get(src)
        if src not in seen_pages:
            seen_pages.add(src)
            fam[f]["pages"] += 1
            status = b["status"] if b else "missing"
            fam[f][status] += 1
            if status == "rejected":
                rejected[f].append((src, b["reasons"], pages.get(src, {}).get("zbar", "?"), pages.get(src, {}).get("fiducials_on_image", "?")))
        a = answers.get((src, t["question"]))
        if not a:
            continue
        kinds = {}
        for m in t["marks"].split():
            opt, rest = m.split("=", 1)
            kinds[opt] = rest.split(":")[0]
        states = dict(s.split("=", 1) for s in a["states"].split())
        scores = dict(s.split("=", 1) for s in a["scores"].split())
        for m in t["marks"].split():
            if ":definite" in m or "=definite:" in m:
                definite_by_style[m.split(":", 1)[1]] += 1
        for opt, state in states.items():
            kind = kinds.get(opt, "empty")
            fam[f]["boxes"] += 1
            if (kind == "definite" and state == "empty") or (kind == "empty" and state == "marked"):
                fam[f]["box_errors"] += 1
                style = next((m.split(":", 1)[1] for m in t["marks"].split() if m.startswith(opt + "=")), "")
                if kind == "definite":
                    fam[f]["missed_marks"] += 1
                    missed_by_style[style] += 1
                else:
                    fam[f]["false_marks"] += 1
                errors[f].append(f"  box   {src} {t['question']} option {opt}: {kind} {style} read {state} (fill {scores.get(opt)})")
            elif state == "ambiguous":
                fam[f]["box_review"] += 1
        ok = {t["expected"], "REVIEW"} | set(filter(None, t["acceptable"].split(";")))
        fam[f]["questions"] += 1
        if a["answer"] not in ok:
            fam[f]["answer_errors"] += 1
            silent = b and b["status"] in ("counted", "invalid")
            if silent:
                fam[f]["silent"] += 1
            errors[f].append(
                f"  {'SILENT' if silent else 'answer'} {src} {t['question']}: read {a['answer']}, expected {t['expected']} ({t['marks'] or 'no marks'}) [{b['status'] if b else '?'}]"
            )

    cols = ["pages", "counted", "invalid", "review", "rejected", "boxes", "box_errors", "missed_marks", "false_marks", "box_review", "questions", "answer_errors", "silent"]
    print("family," + ",".join(cols))
    total = Counter()
    for f in sorted(fam):
        print(f + "," + ",".join(str(fam[f][c]) for c in cols))
        total.update(fam[f])
    print("ALL," + ",".join(str(total[c]) for c in cols))
    print("\ndefinite marks read empty, by style (on pages that were read): " + ", ".join(
        f"{st} {missed_by_style[st]}/{definite_by_style[st]}" for st in sorted(definite_by_style)))
    for f in sorted(fam):
        if rejected[f] or errors[f]:
            print(f"\n## {f}")
        for src, reasons, zbar, fid in rejected[f]:
            print(f"  rejected {src}: {reasons} (zbar {zbar}, fiducials on image {fid})")
        for e in errors[f][:25]:
            print(e)
        if len(errors[f]) > 25:
            print(f"  ... {len(errors[f]) - 25} more")


if __name__ == "__main__":
    main(sys.argv)
