"""A prediction's own page: its input and output, the raw JSON (shown and downloadable), the key
that submitted it, and cancel while it is pending. Patient data: the owner only, 404 otherwise."""

from __future__ import annotations

import json

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from proxyapp.errors import Conflict
from proxyapp.models import Prediction
from proxyapp.schemas import PredictionSchema, shared
from proxyapp.services.keys import lifecycle as keyring
from proxyapp.services.predictions import lifecycle as predictions


def _raw_json(prediction: Prediction) -> str:
    """The prediction object exactly as GET /v1/predictions/{id} answers it, indented."""
    return json.dumps(shared(PredictionSchema).dump(prediction), indent=2, ensure_ascii=False)


@login_required
def prediction(prediction_id: str) -> str:
    """One prediction with its input, output, raw JSON and submitting key."""
    owned = predictions.get_owned_prediction(current_user, prediction_id)
    return render_template("prediction.html", prediction=owned, raw_json=_raw_json(owned),
                           submitting_key=keyring.submitting_key(owned))


@login_required
def prediction_json(prediction_id: str) -> Response:
    """The prediction object as a JSON file download."""
    owned = predictions.get_owned_prediction(current_user, prediction_id)
    return Response(_raw_json(owned) + "\n", mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="prediction-{owned.id}.json"'})


@login_required
def cancel_prediction(prediction_id: str) -> Response:
    """Cancel a queued or running prediction (the API's cancel); a finished one is left as it is."""
    try:
        predictions.cancel_prediction(current_user, prediction_id)
    except Conflict:
        status = predictions.get_owned_prediction(current_user, prediction_id).status
        flash(f"This prediction had already finished ({status}) before the cancel arrived; nothing was changed.",
              "error")
    else:
        flash("The prediction is canceled.", "info")
    return redirect(url_for("web.prediction", prediction_id=prediction_id))
