// Package fog is the fog half of a split network: an HTTP service (Server)
// that runs layers P+1..L of a model on the tensor an edge device sent at
// split point P, the client the edge uses (Client), and the edge's own
// arithmetic (Model.Edge), so that a split run gives exactly the classes
// of the unsplit network.
//
// A Model is a float network (package nn: float32 arithmetic, nn.Model.Run)
// or an integer one (package quant: int8 activations, int8 or int4
// weights, quant.Model.Run). Its split tensors travel as
//
//   - float32 (float models): IEEE 754 binary32, little-endian, 4 bytes a
//     value;
//   - int8 (integer models, at every split point: at P = 0 the edge sends
//     its quantized input window, at P = L its int8 class scores): 1 byte a
//     value;
//
// channel-major (channel 0's values first), Values(P) values, so Bytes(P)
// bytes — partition's SendBytes at the model's precision.
//
// # Wire format
//
// Every path but /healthz needs "Authorization: Bearer <token>" (compared
// in constant time) unless the server is insecure.
//
//	GET  /healthz                      200 {"status":"ok","models":N}
//	GET  /metrics                      Prometheus text exposition
//	GET  /v1/models                    200 {"models":[Info…]}
//	GET  /v1/models/{name}             200 Info
//	POST /v1/models/{name}:infer       200 Response
//
// An Info is {"name", "arch", "precision" (float32|int8|int4, the weights),
// "dtype" (float32|int8, the wire type), "classes": [...], "input":
// {"length","channels"}, "splits": [{"split","tensor":{"length",
// "channels"},"values","bytes"}, … for P = 0..L]}.
//
// An inference request is either raw —
//
//	Content-Type: application/octet-stream
//	Splitnas-Split: P          (decimal, 0..L)
//	Splitnas-Dtype: float32    (or int8: the model's dtype)
//	body: tensor P, exactly Bytes(P) bytes
//
// or JSON —
//
//	Content-Type: application/json
//	{"split": P, "dtype": "float32", "tensor": [v0, v1, …]}
//
// with exactly Values(P) numbers (integers in −128..127 for int8). The
// response is
//
//	{"model": name, "split": P, "class": c, "label": "N",
//	 "scores": [float32 …], "scores_int8": [int8 …]}
//
// where class is the index of the largest score (the first on a tie, as nn's
// and quant's Predict choose), label the model's name for it (its index as
// text if the model has no class names), scores a float model's logits or
// an integer model's int8 scores dequantized with the output's scale and
// zero point, and scores_int8 (integer models only) the raw int8 scores.
//
// Errors are JSON {"error": "<what is wrong, naming the header or field and
// the expected value>", "cause": "<Cause>"}: 400 bad_length, bad_dtype,
// bad_split, not_finite (NaN or ±Inf in a float32 tensor), bad_json; 401
// unauthorized; 404 unknown_model, not_found; 405 method; 413 too_large (a
// raw body over the largest tensor of the model, MaxBytes; a JSON body over
// JSONValueBytes per value of it plus 1 KiB); 415 bad_content_type; 500
// internal (a recovered panic, which no input should cause). Every input is
// checked before it is used.
//
// The metrics: splitnas_fog_requests_total{route,model,code},
// splitnas_fog_errors_total{cause}, splitnas_fog_request_duration_seconds
// (a histogram by route) and splitnas_fog_in_flight_requests.
package fog
