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
