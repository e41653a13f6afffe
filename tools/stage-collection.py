"""Mirror the checkout into DEST as a real directory tree (ansible-test refuses symlinked collections).

Copies every git-tracked file plus untracked files that .gitignore does not exclude, removes files
that no longer exist in the checkout, and leaves DEST/tests/output alone so ansible-test can reuse
its cached virtual environments between runs. DEST gets a git repository of its own (no commits):
ansible-test lists content with git, and would otherwise find the checkout's repository above DEST,
where .cache/ is ignored.
"""

import filecmp
import os
import shutil
import subprocess
import sys

KEEP = ("tests/output", ".git")


def source_files(root):
    out = subprocess.run(
        ["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, stdout=subprocess.PIPE).stdout
    names = {name for name in out.decode("utf-8").split("\0") if name}
    # Tracked files deleted in the working tree are listed too: skip them.
    return sorted(n for n in names if os.path.lexists(os.path.join(root, n)))


def kept(rel):
    return any(rel == k or rel.startswith(k + "/") for k in KEEP)


def copy(src, dst):
    if os.path.islink(src):
        if os.path.lexists(dst):
            os.unlink(dst)
        os.symlink(os.readlink(src), dst)
    elif not (os.path.isfile(dst) and not os.path.islink(dst) and filecmp.cmp(src, dst, shallow=False)):
        if os.path.lexists(dst):
            os.unlink(dst)
        shutil.copy2(src, dst)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: stage-collection.py SOURCE DEST")
    root, dest = (os.path.abspath(p) for p in sys.argv[1:])
    files = source_files(root)
    wanted = set(files)
    for rel in files:
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        copy(os.path.join(root, rel), target)
    for dirpath, dirnames, filenames in os.walk(dest, topdown=False):
        reldir = os.path.relpath(dirpath, dest)
        reldir = "" if reldir == "." else reldir
        if kept(reldir):
            continue
        for name in filenames:
            rel = os.path.join(reldir, name)
            if rel not in wanted and not kept(rel):
                os.unlink(os.path.join(dirpath, name))
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                if os.path.join(reldir, name) not in wanted:
                    os.unlink(path)
            elif not kept(os.path.join(reldir, name)) and not os.listdir(path):
                os.rmdir(path)
    if not os.path.isdir(os.path.join(dest, ".git")):
        subprocess.run(["git", "init", "--quiet", dest], check=True)
    print("staged %d files in %s" % (len(files), dest))


if __name__ == "__main__":
    main()
