import base64

from portal import envfile


def test_make_run_writes_fresh_secrets_once(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    monkeypatch.setattr(envfile, "PATH", path)
    assert envfile.main() == 0
    text = path.read_text()
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    assert values["DEBUG"] == "true"
    assert len(values["SECRET_KEY"]) >= 50
    assert len(base64.b64decode(values["KEY_ENCRYPTION_KEYS"])) == 32
    assert path.stat().st_mode & 0o077 == 0  # readable by its owner only

    path.write_text("DEBUG=true\nSECRET_KEY=mine\n")
    assert envfile.main() == 0
    assert path.read_text() == "DEBUG=true\nSECRET_KEY=mine\n"  # never overwritten


def test_two_runs_never_share_secrets(tmp_path, monkeypatch):
    seen = []
    for name in ("a", "b"):
        monkeypatch.setattr(envfile, "PATH", tmp_path / name)
        envfile.main()
        seen.append((tmp_path / name).read_text())
    assert seen[0] != seen[1]
