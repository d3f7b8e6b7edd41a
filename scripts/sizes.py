"""Size of each function's release bootstrap after `sam build`, raw and zipped
(deflate level 9, as the deployment package is)."""
import glob, io, os, zipfile

for path in sorted(glob.glob(".aws-sam/build/*/bootstrap")):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    name = os.path.basename(os.path.dirname(path))
    print(f"{name:32} bootstrap {os.path.getsize(path)/2**20:6.2f} MiB, zipped {len(buf.getvalue())/2**20:6.2f} MiB")
