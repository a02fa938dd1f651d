"""Layers: a template's own LayerVersions run from their folders with Lambda's layout, in order, at most 5.

Lambda extracts a function's layers to /opt in order (a later layer's file
wins) and puts /opt/python/lib/python3.x/site-packages and /opt/python on
sys.path after the code folder ("Layer paths for each Lambda runtime",
Lambda developer guide). Here /opt is a per-run folder named by LAMBDATOP_OPT.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

from tests.reload_support import save, watched_fleet

from .conftest import REPO_ROOT
from .support import lambdatop

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "serverless_patterns_lambda_layer"

PROBE = """\
import os, sys
import first, shared, vendored
def handler(event, context):
    opt = os.environ["LAMBDATOP_OPT"]
    return {"first": first.WHO, "shared": shared.WHO, "vendored": vendored.WHO,
            "path": sys.path[:3], "opt": opt, "data": open(os.path.join(opt, "data.txt")).read(),
            "bin_on_path": os.path.join(opt, "bin") in os.environ["PATH"].split(":")}
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def two_layer_project(root: Path, layers: str = "[!Ref One, !Ref Two]") -> Path:
    write(root, {
        "src/app.py": PROBE,
        # One: as Lambda extracts a zip to /opt (python/, python/lib/python3.11/site-packages/, data files).
        "layers/one/python/first.py": "WHO = 'one'\n",
        "layers/one/python/shared.py": "WHO = 'one'\n",
        "layers/one/python/lib/python3.11/site-packages/vendored.py": "WHO = 'site-packages of one'\n",
        "layers/one/data.txt": "from one",
        # Two: built by SAM (BuildMethod python3.11): the folder's contents land in /opt/python.
        "layers/two/shared.py": "WHO = 'two'\n",
        "template.yaml": f"""\
            Transform: AWS::Serverless-2016-10-31
            Resources:
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: src/
                  Handler: app.handler
                  Runtime: python3.11
                  Layers: {layers}
              One:
                Type: AWS::Lambda::LayerVersion
                Properties:
                  Content: layers/one/
              Two:
                Type: AWS::Serverless::LayerVersion
                Properties:
                  LayerName: two
                  ContentUri: layers/two/
                Metadata:
                  BuildMethod: python3.11
            """,
    })
    return root / "template.yaml"


def test_template_layers_load_in_order_with_lambdas_layout(tmp_path: Path) -> None:
    two_layer_project(tmp_path)
    done = lambdatop("invoke", "Fn", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["first"], answer["vendored"]) == ("one", "site-packages of one")
    assert answer["shared"] == "two"  # the later layer's file replaces the earlier one's, as in /opt
    opt = answer["opt"]
    assert answer["path"] == [str(tmp_path / "src"), f"{opt}/python/lib/python3.11/site-packages", f"{opt}/python"]
    assert answer["data"] == "from one" and answer["bin_on_path"] is True
    assert "warning" not in done.stderr
    # /opt is links to the layers: the layers' own folders are never written to.
    assert not [p for p in (tmp_path / "layers").rglob("*") if p.is_symlink()]
    assert (tmp_path / "layers/one/python/shared.py").read_text() == "WHO = 'one'\n"


def test_the_public_layer_pattern_runs_unmodified() -> None:
    with_layer = lambdatop("invoke", "PyMySQLLayerLambdaFunction", "-c", "template.yml", cwd=FIXTURE)
    assert with_layer.returncode == 0, with_layer.stderr
    assert json.loads(with_layer.stdout) is True
    without = lambdatop("invoke", "PyMySQLNoLayerLambdaFunction", "-c", "template.yml", cwd=FIXTURE)
    assert without.returncode == 1
    assert json.loads(without.stdout) == {
        "errorMessage": "Unable to import module 'app': No module named 'pymysql'",
        "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": [],
    }


def test_more_than_five_layers_is_lambdas_error_and_a_remote_arn_is_a_warning(tmp_path: Path) -> None:
    six = "[" + ", ".join(["!Ref One"] * 6) + "]"
    two_layer_project(tmp_path, six)
    done = lambdatop("invoke", "Fn", cwd=tmp_path)
    assert done.returncode == 2
    assert "template.yaml:3: function 'Fn': Layers: Cannot reference more than 5 layers." in done.stderr

    remote = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:7"
    two_layer_project(tmp_path, f"[!Ref One, !Ref Two, {remote}]")
    done = lambdatop("invoke", "Fn", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(f"layer {remote} is not in the template and cannot be downloaded") == 1
    assert "(used by Fn)" in done.stderr


def test_lambdatop_yaml_layers_resolve_against_the_file_and_override_the_templates(tmp_path: Path) -> None:
    project = tmp_path / "project"
    two_layer_project(project)
    write(project, {
        "extra/python/first.py": "WHO = 'extra'\n",
        "extra/python/shared.py": "WHO = 'extra'\n",
        "extra/python/vendored.py": "WHO = 'extra'\n",
        "extra/data.txt": "from extra",
        "lambdatop.yaml": "template: template.yaml\nfunctions:\n  Fn:\n    layers: [extra/]\n",
    })
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = lambdatop("invoke", "Fn", "-c", str(project / "lambdatop.yaml"), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["first"], answer["shared"], answer["data"]) == ("extra", "extra", "from extra")

    (project / "lambdatop.yaml").write_text("template: template.yaml\nfunctions:\n  Fn:\n    layers: [missing/]\n")
    done = lambdatop("invoke", "Fn", "-c", str(project / "lambdatop.yaml"), cwd=elsewhere)
    assert done.returncode == 2 and "layer folder 'missing/' does not exist (relative to lambdatop.yaml)" in done.stderr


async def test_editing_a_layer_file_reloads_the_functions_that_use_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    config = two_layer_project(tmp_path)
    async with watched_fleet(config) as w:
        before = await w.fleet.invoke("Fn", {})
        assert json.loads(before.response)["shared"] == "two" and before.record.code_version == "v1"
        save(tmp_path / "layers" / "two" / "shared.py", "WHO = 'two, edited'\n")
        event = await w.next_event("reload", "Fn")
        await w.settle()
        after = await w.fleet.invoke("Fn", {})
        assert json.loads(after.response)["shared"] == "two, edited"
        assert after.record.code_version == "v2" and after.record.cold_start
        assert event.message.startswith("Fn: v1 → v2 (") and event.detail["files"] == ["layers/two/shared.py"]
        assert os.path.isdir(json.loads(after.response)["opt"])

        # The template points the layer at another folder: the function follows, and the change is plain data.
        write(tmp_path, {"layers/three/shared.py": "WHO = 'three'\n"})
        w.forget()
        save(config, config.read_text().replace("ContentUri: layers/two/", "ContentUri: layers/three/"))
        event = await w.next_event("reload", "Fn")
        await w.settle()
        moved = await w.fleet.invoke("Fn", {})
        assert json.loads(moved.response)["shared"] == "three"
        assert str(tmp_path / "layers" / "three") in json.dumps(event.detail)
