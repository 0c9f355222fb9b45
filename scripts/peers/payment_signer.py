#!/usr/bin/env python3
"""Payment-provider peer for the RechargePayments tests: the providers' own Python SDKs sign (or check)
what the Swift code verifies (or signs), so both sides are held to the SDKs rather than to each other.

Every input comes from a file (bytes stay bytes; keys stay out of argv); every answer is one JSON object
on stdout, with bodies as base64 so the Swift side receives the exact bytes that were signed.

  stripe sign    --payload FILE --secret FILE --timestamp T
      stripe.WebhookSignature.generate_signature_header → {"body_base64", "headers": {"Stripe-Signature"}}
  stripe verify  --payload FILE --secret FILE --header-file FILE [--tolerance S]
      stripe.WebhookSignature.verify_header (its own clock) → {"valid": bool, "error": str|null}
  alipay notify  --params FILE(JSON object) --private-key FILE(PEM)
      alipay.AliPay.sign_data over the params (sign_type is not signed in a notify, so it is appended
      afterwards, as Alipay's gateway sends it) → {"body_base64"}
  alipay request --params FILE(JSON object) --private-key FILE(PEM)
      alipay.AliPay.sign_data over the params as given (sign_type included, as for any request) → {"body"}
  wechat notify  --transaction FILE(JSON) --private-key FILE(PEM) --apiv3-key FILE --timestamp T
                 --nonce N --serial S --resource-nonce N12 [--associated-data AD]
      resource encrypted with cryptography's AESGCM as WeChat does (ciphertext || tag, base64), body
      signed with wechatpayv3.utils.rsa_sign; checked with the SDK's own rsa_verify and aes_decrypt
      before it is printed → {"body_base64", "headers": {"Wechatpay-…"}}
  wechat authorization --private-key FILE --mchid M --serial S --method M --path P --body FILE
                 --timestamp T --nonce N
      wechatpayv3.utils.build_authorization with its clock held at T → {"authorization"}
"""
import argparse
import base64
import json
import sys
from unittest import mock


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_text(path):
    return read_bytes(path).decode("utf-8")


def emit(obj):
    json.dump(obj, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


def stripe_sign(args):
    from stripe import WebhookSignature

    payload = read_text(args.payload)
    header = WebhookSignature.generate_signature_header(payload, read_text(args.secret), timestamp=args.timestamp)
    emit({"body_base64": base64.b64encode(payload.encode("utf-8")).decode(), "headers": {"Stripe-Signature": header}})


def stripe_verify(args):
    from stripe import WebhookSignature, SignatureVerificationError

    try:
        WebhookSignature.verify_header(
            read_bytes(args.payload), read_text(args.header_file), read_text(args.secret), tolerance=args.tolerance
        )
        emit({"valid": True, "error": None})
    except SignatureVerificationError as error:
        emit({"valid": False, "error": str(error)})


def alipay_client(private_key_pem):
    from alipay import AliPay
    from Cryptodome.PublicKey import RSA

    public_pem = RSA.importKey(private_key_pem).publickey().export_key().decode()
    return AliPay(
        appid="peer", app_private_key_string=private_key_pem, alipay_public_key_string=public_pem, sign_type="RSA2"
    )


def alipay_notify(args):
    params = json.loads(read_text(args.params))
    params.pop("sign_type", None)
    client = alipay_client(read_text(args.private_key))
    body = client.sign_data(params) + "&sign_type=RSA2"
    emit({"body_base64": base64.b64encode(body.encode("utf-8")).decode()})


def alipay_request(args):
    params = json.loads(read_text(args.params))
    client = alipay_client(read_text(args.private_key))
    emit({"body": client.sign_data(params)})


def wechat_notify(args):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from wechatpayv3 import utils

    private_key = utils.load_private_key(read_text(args.private_key))
    apiv3_key = read_text(args.apiv3_key)
    plaintext = read_bytes(args.transaction)
    ciphertext = AESGCM(apiv3_key.encode("utf-8")).encrypt(
        args.resource_nonce.encode("utf-8"), plaintext, args.associated_data.encode("utf-8")
    )
    body = json.dumps(
        {
            "id": "EV-2018022511223320873",
            "create_time": "2015-05-20T13:29:35+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": args.associated_data,
                "nonce": args.resource_nonce,
            },
        },
        ensure_ascii=False,
    )
    signature = utils.rsa_sign(private_key, "%s\n%s\n%s\n" % (args.timestamp, args.nonce, body))
    # The SDK's own receiving side must accept what we built, or the test would prove nothing.
    assert utils.rsa_verify(args.timestamp, args.nonce, body, signature, private_key.public_key())
    resource = json.loads(body)["resource"]
    assert utils.aes_decrypt(
        resource["nonce"], resource["ciphertext"], resource["associated_data"], apiv3_key
    ) == plaintext.decode("utf-8")
    emit(
        {
            "body_base64": base64.b64encode(body.encode("utf-8")).decode(),
            "headers": {
                "Wechatpay-Timestamp": str(args.timestamp),
                "Wechatpay-Nonce": args.nonce,
                "Wechatpay-Signature": signature,
                "Wechatpay-Serial": args.serial,
            },
        }
    )


def wechat_authorization(args):
    from wechatpayv3 import utils

    private_key = utils.load_private_key(read_text(args.private_key))
    with mock.patch.object(utils.time, "time", return_value=float(args.timestamp)):
        header = utils.build_authorization(
            args.path, args.method, args.mchid, args.serial, private_key,
            data=read_text(args.body), nonce_str=args.nonce,
        )
    emit({"authorization": header})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    providers = parser.add_subparsers(dest="provider", required=True)

    stripe = providers.add_parser("stripe").add_subparsers(dest="action", required=True)
    p = stripe.add_parser("sign")
    p.add_argument("--payload", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--timestamp", type=int, required=True)
    p.set_defaults(run=stripe_sign)
    p = stripe.add_parser("verify")
    p.add_argument("--payload", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--header-file", required=True)
    p.add_argument("--tolerance", type=int, default=300)
    p.set_defaults(run=stripe_verify)

    alipay = providers.add_parser("alipay").add_subparsers(dest="action", required=True)
    for name, run in (("notify", alipay_notify), ("request", alipay_request)):
        p = alipay.add_parser(name)
        p.add_argument("--params", required=True)
        p.add_argument("--private-key", required=True)
        p.set_defaults(run=run)

    wechat = providers.add_parser("wechat").add_subparsers(dest="action", required=True)
    p = wechat.add_parser("notify")
    p.add_argument("--transaction", required=True)
    p.add_argument("--private-key", required=True)
    p.add_argument("--apiv3-key", required=True)
    p.add_argument("--timestamp", type=int, required=True)
    p.add_argument("--nonce", required=True)
    p.add_argument("--serial", required=True)
    p.add_argument("--resource-nonce", required=True)
    p.add_argument("--associated-data", default="transaction")
    p.set_defaults(run=wechat_notify)
    p = wechat.add_parser("authorization")
    p.add_argument("--private-key", required=True)
    p.add_argument("--mchid", required=True)
    p.add_argument("--serial", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--timestamp", type=int, required=True)
    p.add_argument("--nonce", required=True)
    p.set_defaults(run=wechat_authorization)

    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
