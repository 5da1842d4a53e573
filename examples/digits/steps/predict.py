"""Batch inference: predict the digits of --batch (.npz with x, ids and maybe y) with --model-uri; write
work/predictions/<batch>.csv and log the model version used (and the accuracy when the batch has labels)."""
import argparse
from pathlib import Path

import mlflow
import numpy as np

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--batch", default="work/test.npz")
parser.add_argument("--model-uri", default="models:/digits-classifier@production")
args = parser.parse_args()

batch = np.load(args.batch)
uri, version = args.model_uri, ""
if uri.startswith("models:/") and "@" in uri:  # the version the alias points at now (it may move while we run)
    name, alias = uri.removeprefix("models:/").split("@", 1)
    version = str(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
    uri = f"models:/{name}/{version}"
elif uri.startswith("models:/") and uri.rsplit("/", 1)[-1].isdigit():  # a version named outright
    version = uri.rsplit("/", 1)[-1]
model = mlflow.pyfunc.load_model(uri)
predicted = np.asarray(model.predict(batch["x"])).astype(int)
out = Path("work/predictions") / (Path(args.batch).stem + ".csv")
out.parent.mkdir(parents=True, exist_ok=True)
ids = batch["ids"] if "ids" in batch.files else np.arange(len(predicted)).astype(str)
out.write_text("id,prediction\n" + "".join(f"{i},{p}\n" for i, p in zip(ids, predicted)))

with mlflow.start_run():
    mlflow.log_params({"batch": args.batch, "model_uri": args.model_uri, "model_version": version})
    mlflow.log_metric("n", len(predicted))
    if "y" in batch.files:
        accuracy = float(np.mean(predicted == batch["y"]))
        mlflow.log_metric("accuracy", accuracy)
        print(f"predict: {len(predicted)} samples of {args.batch} with version {version}, accuracy {accuracy:.3f}")
    else:
        print(f"predict: {len(predicted)} samples of {args.batch} with version {version} -> {out}")
