#!/usr/bin/env python3
"""Writes docs/openapi.json: the OpenAPI 3.1 description of every endpoint pitboss
serves. The endpoint list must match the server's own tables (`server::endpoints`);
`tests/openapi.rs` fails when they disagree. Run from the repository root:

    python3 tools/openapi/generate.py
"""
import json

S = lambda t, **kw: {"type": t, **kw}
STR, INT, BOOL, NUM = S("string"), S("integer"), S("boolean"), S("number")
ANY = {}


def obj(props, required=()):
    return {"type": "object", "properties": props, "required": list(required)}


ENVELOPE = obj({"code": INT, "message": STR, "data": ANY}, ["code", "message", "data"])
# The gate dialect answers `{success, data}`; a refused balance `{code, msg, data}`;
# a refused bet, win or refund `{success: false, code, error_tip}` (docs/gate.md).
GATE_ANSWER = obj({"success": BOOL, "code": INT, "msg": STR, "error_tip": STR, "data": ANY})
# `traceId` is null when the request's own could not be read.
BANK_ANSWER = obj({"traceId": S(["string", "null"]), "code": INT, "message": STR, "data": ANY,
                   "path": STR, "timestamp": STR}, ["code", "message"])
PAGE = obj({"offset": INT, "limit": INT})
TOURNEY = obj({"tourneyId": STR}, ["tourneyId"])

PLATFORM = [{"platformClientId": [], "platformTimestamp": [], "platformNonce": [],
             "platformSignature": []}]
GATE, BANK, ADMIN, NONE = [{}], [{"bankApiKey": [], "bankTimestamp": [], "bankSignature": []}], \
    [{"adminToken": []}], []

# (method, path, summary, security, request body schema or None, answer schema)
ENDPOINTS = [
    ("get", "/service/jsonapi/game/list", "Games (Publisher Manual §3.1)", PLATFORM, None, ENVELOPE),
    ("post", "/service/jsonapi/game/versions", "A game's versions (§3.2)", PLATFORM,
     obj({"gameId": STR}, ["gameId"]), ENVELOPE),
    ("get", "/service/jsonapi/game/info", "One game (§3.3), `?gameId=`", PLATFORM, None, ENVELOPE),
    ("post", "/service/jsonapi/game/records", "Game records, cursor-paged (§3.4)", PLATFORM,
     obj({"gameId": STR, "userIdentity": STR, "startTime": INT, "endTime": INT, "cursor": INT,
          "action": S("string", enum=["next", "prev"]), "size": INT}), ENVELOPE),
    ("get", "/service/jsonapi/game/incompleteGames", "Incomplete games (§3.5)", PLATFORM, None, ENVELOPE),
    ("get", "/service/jsonapi/game/playerResumeGames", "A player's incomplete games (§3.6), `?userIdentity=`",
     PLATFORM, None, ENVELOPE),
    ("post", "/service/jsonapi/game/expirePlayerGames", "Expire a player's rounds (§3.7)", PLATFORM,
     obj({"userIdentity": STR}, ["userIdentity"]), ENVELOPE),
    ("post", "/service/jsonapi/game/expireGames", "Expire every open round (§3.8)", PLATFORM, None, ENVELOPE),
    ("post", "/service/jsonapi/wallet/deposit", "Deposit, minor units (§4.1)", PLATFORM,
     obj({"walletId": STR, "amount": INT, "transactionId": STR},
         ["walletId", "amount", "transactionId"]), ENVELOPE),
    ("post", "/service/jsonapi/wallet/withdraw", "Withdraw: type 0 all, 1 an amount (§4.2)", PLATFORM,
     obj({"walletId": STR, "type": INT, "amount": INT, "transactionId": STR},
         ["walletId", "type", "transactionId"]), ENVELOPE),
    ("post", "/service/jsonapi/wallet/query", "Balance (§4.3)", PLATFORM,
     obj({"walletId": STR}, ["walletId"]), ENVELOPE),
    ("post", "/service/jsonapi/user/login", "Register or log a player in (§6.1)", PLATFORM,
     obj({"identifier": STR, "credential": STR, "authType": STR, "currency": STR},
         ["identifier", "credential"]), ENVELOPE),
    ("post", "/service/jsonapi/user/update", "Set a player's credential (§6.2)", PLATFORM,
     obj({"identifier": STR, "credential": STR}, ["identifier", "credential"]), ENVELOPE),
    ("post", "/service/jsonapi/user/logout", "End a player's sessions (§6.3)", PLATFORM,
     obj({"identifier": STR, "credential": STR}, ["identifier", "credential"]), ENVELOPE),
    ("post", "/service/jsonapi/tournament/create", "Create a tournament from its spec (§5.2)", PLATFORM,
     obj({"version": STR, "name": STR, "start": INT, "end": INT, "rounds": S("array", items=ANY)},
         ["version", "name", "start", "end", "rounds"]), ENVELOPE),
    ("post", "/service/jsonapi/tournament/list", "Tournaments (§5.3)", PLATFORM, PAGE, ENVELOPE),
    ("post", "/service/jsonapi/tournament/info", "One tournament (§5.4)", PLATFORM, TOURNEY, ENVELOPE),
    ("post", "/service/jsonapi/tournament/games", "Bound games (§5.5)", PLATFORM, PAGE, ENVELOPE),
    ("post", "/service/jsonapi/tournament/bind", "Bind a game (§5.6)", PLATFORM,
     obj({"tourneyId": STR, "gameId": STR}, ["tourneyId", "gameId"]), ENVELOPE),
    ("post", "/service/jsonapi/tournament/unbind", "Unbind a game (§5.7)", PLATFORM,
     obj({"tourneyId": STR, "gameId": STR}, ["tourneyId", "gameId"]), ENVELOPE),
    ("post", "/service/jsonapi/tournament/close", "Close early and pay (§5.8)", PLATFORM, TOURNEY, ENVELOPE),
    ("post", "/service/jsonapi/tournament/delete", "Delete (§5.9)", PLATFORM, TOURNEY, ENVELOPE),
    ("post", "/service/jsonapi/tournament/ranks", "A page of a round's ranks (§5.10)", PLATFORM,
     obj({"tourneyId": STR, "currentRound": INT, "offset": INT, "limit": INT},
         ["tourneyId", "currentRound"]), ENVELOPE),
    ("post", "/service/jsonapi/tournament/rank", "A player's rank and its neighbours", PLATFORM,
     obj({"tourneyId": STR, "currentRound": INT, "userIdentity": STR, "before": INT, "after": INT},
         ["tourneyId", "currentRound", "userIdentity"]), ENVELOPE),
    ("post", "/service/jsonapi/tournament/history", "A player's score history in a round", PLATFORM,
     obj({"tourneyId": STR, "currentRound": INT, "userIdentity": STR},
         ["tourneyId", "currentRound", "userIdentity"]), ENVELOPE),
    ("post", "/service/webhook/subscribe", "Subscribe a receiver (§7.1)", PLATFORM,
     obj({"url": STR, "events": S("array", items=STR)}, ["url", "events"]), ENVELOPE),
    ("get", "/service/webhook/unsubscribe", "End every subscription (§7.2)", PLATFORM, None, ENVELOPE),
    ("post", "/service/webhook/publish", "Publish an event (§7.3)", PLATFORM,
     obj({"event": STR, "payload": S("object")}, ["event", "payload"]), ENVELOPE),
    ("get", "/service/webhook/list", "Subscriptions and their outboxes", PLATFORM, None, ENVELOPE),
    ("post", "/service/webhook/failed", "Deliveries whose retries are spent", PLATFORM, PAGE, ENVELOPE),
    ("post", "/service/webhook/redeliver", "Queue a failed delivery again", PLATFORM,
     obj({"eventId": STR, "subscriberId": INT}, ["eventId"]), ENVELOPE),
    ("post", "/service/cli/login", "An operator's apiKey for its password (§1.1.3)", NONE,
     obj({"clientId": STR, "password": STR}, ["clientId", "password"]), ENVELOPE),
]
GATE_BODY = lambda extra, req: obj({"app_key": STR, "timestamp": INT, "sign": STR, "uid": INT, **extra},
                                   ["app_key", "timestamp", "sign", *req])
ENDPOINTS += [
    ("post", "/getBalance", "Gate wallet API: balance", GATE, GATE_BODY({"currency": STR}, ["uid"]), GATE_ANSWER),
    ("post", "/bet", "Gate wallet API: a bet", GATE, GATE_BODY(
        {"currency": STR, "transaction_id": STR, "round_id": STR, "game_id": STR, "amount": INT},
        ["uid", "transaction_id", "round_id", "game_id", "amount"]), GATE_ANSWER),
    ("post", "/win", "Gate wallet API: a win", GATE, GATE_BODY(
        {"currency": STR, "transaction_id": STR, "round_id": STR, "game_id": STR, "amount": INT,
         "end_round": BOOL}, ["uid", "transaction_id", "round_id", "game_id", "amount"]), GATE_ANSWER),
    ("post", "/refund", "Gate wallet API: refund a bet", GATE, GATE_BODY(
        {"currency": STR, "transaction_id": STR, "bet_transaction_id": STR},
        ["uid", "transaction_id", "bet_transaction_id"]), GATE_ANSWER),
]
BANK_BODY = lambda extra, req: obj({"traceId": STR, "playerId": STR, "currency": STR, **extra},
                                   ["traceId", *req])
ENDPOINTS += [
    ("post", "/api/bank/balance", "Bank wallet API: balance", BANK, BANK_BODY({}, ["playerId", "currency"]), BANK_ANSWER),
    ("post", "/api/bank/deposit", "Bank wallet API: deposit (exact decimals)", BANK,
     BANK_BODY({"amount": ANY, "referenceId": STR}, ["playerId", "currency", "amount", "referenceId"]), BANK_ANSWER),
    ("post", "/api/bank/withdraw", "Bank wallet API: withdraw (exact decimals)", BANK,
     BANK_BODY({"amount": ANY, "referenceId": STR}, ["playerId", "currency", "amount", "referenceId"]), BANK_ANSWER),
    ("post", "/api/bank/getsingletransaction", "Bank wallet API: one transaction", BANK,
     BANK_BODY({"referenceId": STR}, ["referenceId"]), BANK_ANSWER),
]
ENDPOINTS += [
    ("get", "/admin/operators", "Operators", ADMIN, None, ENVELOPE),
    ("post", "/admin/operators", "Create an operator", ADMIN,
     obj({"clientId": STR, "channelId": STR, "currencies": S("array", items=STR), "walletMode": STR,
          "password": STR}, ["clientId", "channelId"]), ENVELOPE),
    ("post", "/admin/operators/wallet", "Where an operator's money is kept", ADMIN,
     obj({"clientId": STR, "walletMode": STR, "walletDialect": STR, "walletUrl": STR},
         ["clientId", "walletMode"]), ENVELOPE),
    ("post", "/admin/operators/keys", "The keys wallet-API calls are signed with", ADMIN,
     obj({"clientId": STR, "appKey": STR, "appSecret": STR}, ["clientId", "appKey", "appSecret"]), ENVELOPE),
    ("get", "/admin/seamless", "Unfinished calls to operators' wallets", ADMIN, None, ENVELOPE),
    ("post", "/admin/games", "Register a game", ADMIN, obj({"gameId": STR}, ["gameId"]), ENVELOPE),
    ("post", "/admin/games/version", "Add a game version", ADMIN, obj({"gameId": STR}, ["gameId"]), ENVELOPE),
    ("post", "/admin/games/status", "Set a game's status", ADMIN,
     obj({"gameId": STR, "status": INT}, ["gameId", "status"]), ENVELOPE),
    ("get", "/admin/currencies", "Currencies", ADMIN, None, ENVELOPE),
    ("post", "/admin/currencies", "Register a currency", ADMIN,
     obj({"code": STR, "exponent": INT}, ["code", "exponent"]), ENVELOPE),
    ("post", "/admin/tournaments", "Create a channel's tournament", ADMIN,
     obj({"channelId": STR, "spec": S("object")}, ["channelId", "spec"]), ENVELOPE),
    ("post", "/admin/tournaments/list", "A channel's tournaments", ADMIN,
     obj({"channelId": STR, "offset": INT, "limit": INT}, ["channelId"]), ENVELOPE),
    ("post", "/admin/tournaments/ranks", "A channel's tournament ranks", ADMIN,
     obj({"channelId": STR, "tourneyId": STR, "currentRound": INT, "offset": INT, "limit": INT},
         ["channelId", "tourneyId", "currentRound"]), ENVELOPE),
    ("get", "/health", "200 while the log accepts writes, 503 once it failed closed", NONE, None,
     obj({"status": STR, "durableLsn": INT, "uptimeSeconds": INT}, ["status", "durableLsn", "uptimeSeconds"])),
    ("get", "/metrics", "Prometheus text exposition", NONE, None, None),
    ("get", "/openapi.json", "This document", NONE, None, S("object")),
    ("get", "/console", "The operator console (HTML)", NONE, None, None),
]


def operation(method, path, summary, security, body, answer):
    op = {"summary": summary, "operationId": (method + path).replace("/", "_").replace(".", "_"),
          "security": security, "responses": {}}
    if security == GATE:
        op["description"] = ("Signed in the body: `sign` = md5 of the parameters other than `sign`, "
                             "sorted by name as `k=v&...`, followed by `&key=<appSecret>` (docs/gate.md).")
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if path == "/metrics":
        op["responses"]["200"] = {"description": "metrics",
                                  "content": {"text/plain": {"schema": STR}}}
    elif path == "/console":
        op["responses"]["200"] = {"description": "the console's page",
                                  "content": {"text/html": {"schema": STR}}}
    else:
        op["responses"]["200"] = {"description": "the answer (its code says whether it succeeded)",
                                  "content": {"application/json": {"schema": answer}}}
        if answer is ENVELOPE:
            op["responses"]["default"] = {"description": "an error: the same envelope, code ≠ 0 "
                                          "(docs/api-errors.md)",
                                          "content": {"application/json": {"schema": ENVELOPE}}}
        elif path == "/health":
            op["responses"]["503"] = {"description": "the log has failed closed",
                                      "content": {"application/json": {"schema": answer}}}
        else:
            op["responses"]["default"] = {"description": "a refusal in the dialect's own envelope",
                                          "content": {"application/json": {"schema": answer}}}
    return op


def header(name, what):
    return {"type": "apiKey", "in": "header", "name": name, "description": what}


doc = {
    "openapi": "3.1.0",
    "info": {"title": "pitboss", "version": "0.1.0",
             "description": "The platform API (Publisher Manual §1–§7), the gate and bank wallet APIs, "
                            "and administration. docs/platform-api.md, docs/gate.md, docs/bank.md."},
    "servers": [{"url": "http://127.0.0.1:8080"}],
    "components": {"securitySchemes": {
        "platformClientId": header("X-Client-ID", "The operator's clientId."),
        "platformTimestamp": header("X-Timestamp", "Unix seconds, within 300 s of the server's clock."),
        "platformNonce": header("X-Nonce", "1-64 bytes, once per client within the window."),
        "platformSignature": header("X-Signature",
                                    "hex(sha256(clientId + timestamp + nonce + apiKey)) (Publisher Manual §1)."),
        "bankApiKey": header("X-API-Key", "The operator's appKey."),
        "bankTimestamp": header("X-Timestamp", "Unix milliseconds."),
        "bankSignature": header("X-Signature", "hex(md5(hex(HMAC-SHA256(appSecret, body)))) (docs/bank.md)."),
        "adminToken": {"type": "http", "scheme": "bearer",
                       "description": "The token in the data directory's admin-token file."},
    }},
    "paths": {},
}
for method, path, summary, security, body, answer in ENDPOINTS:
    doc["paths"].setdefault(path, {})[method] = operation(method, path, summary, security, body, answer)

with open("docs/openapi.json", "w") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(f"docs/openapi.json: {len(ENDPOINTS)} operations")
