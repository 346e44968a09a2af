#!/usr/bin/env bash
# Installs what tools/corpus/ needs (dev-only: nothing here is needed to build or use ballotscan).
#   - Debian: zbar-tools (zbarimg) and libzbar0 (pyzbar loads it) to check the QR codes, and
#     fonts-dejavu-core for the seal's and the margin notes' Vietnamese text.
#   - PyPI: the pinned packages of requirements.txt (see the note there about --no-deps).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if command -v apt-get >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq zbar-tools libzbar0 fonts-dejavu-core
fi
python3 -m pip install --no-deps -r "$here/requirements.txt"
python3 -c "import augraphy, cv2, numpy, pyzbar.pyzbar; print('corpus tools ready: augraphy', augraphy.__version__ if hasattr(augraphy, '__version__') else '', 'opencv', cv2.__version__)"
