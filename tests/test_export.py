"""SavedModel and TFLite export: raw uint8 inputs in, the named outputs out, same numbers."""

import numpy as np
import pytest
import tensorflow as tf

from affectkeras.errors import InvalidArgumentError
from affectkeras.export import SIGNATURE, export_saved_model, export_tflite
from affectkeras.models import inference_model
from tests.test_models import NETWORKS, inputs_for


@pytest.mark.parametrize("name", ["mt_vgg", "av_mt_vgg_rnn", "mt_arcres", "vggface_indrnn_attention"])
def test_saved_model_serves_raw_inputs_like_predict(name, tmp_path):
    model = inference_model(NETWORKS[name]())
    x = {key: value for key, value in inputs_for(model, batch=3).items()}
    path = export_saved_model(model, tmp_path / "saved_model")
    served = tf.saved_model.load(str(path)).signatures[SIGNATURE]
    assert served.structured_input_signature[1]["faces"].dtype == tf.uint8
    got = served(**{key: tf.constant(value) for key, value in x.items()})
    expected = model.predict(x, verbose=0)
    assert set(got) == set(expected)
    for key in expected:
        assert np.max(np.abs(got[key].numpy() - expected[key])) < 1e-5, key
    assert [p.name for p in tmp_path.iterdir()] == ["saved_model"]  # no staging folder left


def test_export_refuses_to_overwrite_unless_asked(tmp_path):
    model = NETWORKS["mt_vgg"]()
    export_saved_model(model, tmp_path / "out")
    with pytest.raises(InvalidArgumentError, match="overwrite=True"):
        export_saved_model(model, tmp_path / "out")
    export_saved_model(model, tmp_path / "out", overwrite=True)


# TensorFlow >= 2.20 says tf.lite.Interpreter moves to the ai-edge-litert package; it still
# runs the converted model, which is all this test needs of it.
@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
def test_per_frame_network_converts_to_tflite(tmp_path):
    model = NETWORKS["mt_vgg"]()
    path = export_tflite(model, tmp_path / "mt_vgg.tflite")
    interpreter = tf.lite.Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner(SIGNATURE)
    x = inputs_for(model, batch=1)
    got = runner(faces=x["faces"])
    expected = model.predict(x, verbose=0)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], atol=1e-5)
    with pytest.raises(InvalidArgumentError, match=r"\.tflite"):
        export_tflite(model, tmp_path / "model.bin")
    # A network trained in bf16 (`--precision mixed_bfloat16`) converts as its float32 twin.
    from affectkeras.export import export_model
    from affectkeras.models.surgery import with_precision

    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "model.tflite").write_bytes(b"an earlier export's")
    description = export_model(with_precision(model, "mixed_bfloat16"), tmp_path / "deploy", overwrite=True)
    assert description["tflite"] == "model.tflite"
    runner = tf.lite.Interpreter(model_path=str(tmp_path / "deploy" / "model.tflite")).get_signature_runner(SIGNATURE)
    for key, value in runner(faces=x["faces"]).items():
        np.testing.assert_allclose(value, expected[key], atol=0.05)  # bf16 weights' rounding


def test_export_json_names_the_expression_columns_with_the_model_s_own_classes(tmp_path, capsys):
    import json

    from affectkeras import cli, pretraining
    from affectkeras.constants import expression_names
    from affectkeras.export import export_model

    clips = pretraining.build_speech_network(width=0.1, name="tiny_clips")
    names = ["anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    described = export_model(clips, tmp_path / "named", classes=names, tflite=False)
    assert described["outputs"]["expression"]["labels"] == names
    # Unknown classes of a clip classifier are unnamed, never Aff-Wild2's expressions.
    assert export_model(clips, tmp_path / "unnamed", tflite=False)["outputs"]["expression"]["labels"] is None
    with pytest.raises(InvalidArgumentError, match=r"8 columns .*Received: classes=\['anger', 'fear'\]"):
        export_model(clips, tmp_path / "short", classes=["anger", "fear"], tflite=False)
    assert not (tmp_path / "short").exists()  # refused before anything is written
    faces = NETWORKS["mt_vgg"]()
    described = export_model(faces, tmp_path / "faces", tflite=False)
    assert described["outputs"]["expression"]["labels"] == list(expression_names(8))
    assert described["outputs"]["valence_arousal"]["labels"] == ["valence", "arousal"]
    # A fine-tuned network (face or clip) exported from its run: the classes its metrics.json recorded.
    for network, run in ((clips, tmp_path / "clip_run"), (faces, tmp_path / "face_run")):
        run.mkdir()
        network.save(run / "model.keras")
        (run / "metrics.json").write_text(json.dumps({"kind": "audio_clips", "classes": names}))
        assert cli.main(["export", "--model", str(run), "--out", str(run / "deploy"), "--no-tflite"]) == 0
        written = json.loads((run / "deploy" / "export.json").read_text())
        assert written["outputs"]["expression"]["labels"] == names
    capsys.readouterr()


def test_an_export_folder_named_with_glob_characters_exports_and_loads_back(tmp_path):
    from affectkeras.export import export_model
    from affectkeras.inference import load_predictor

    model = NETWORKS["mt_vgg"]()
    folder = tmp_path / "model[v2]"  # TensorFlow globs the variables' path: `[v2]` matched nothing
    assert export_model(model, folder)["tflite"] == "model.tflite"  # the converter loads a SavedModel too
    x = inputs_for(model, batch=2)
    expected = model.predict(x, verbose=0)
    for path in (folder, folder / "saved_model"):
        got = load_predictor(path).predict_batch(x["faces"])
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], atol=1e-5)
