import Foundation
import RechargeTestSupport
import RechargePayments
import Testing
import _CryptoExtras

/// Our verifiers against notifications signed by the providers' own Python SDKs, and our signers against
/// what those SDKs produce for the same input (RSA PKCS#1 v1.5 and HMAC are deterministic, so the outputs
/// must be equal byte for byte). Needs RECHARGE_TEST_PEERS_PYTHON: `eval "$(scripts/start-peers)"`.
@Suite(.enabled(
    if: PaymentPeer.isAvailable,
    "skipped: RECHARGE_TEST_PEERS_PYTHON is not set; run eval \"$(scripts/start-peers)\" to test against the providers' SDKs"))
struct PaymentSDKPeerTests {
    // MARK: Stripe (stripe 16.1.0)

    let stripeSecret = "whsec_peer_9d8c7b6a5f4e3d2c1b0a"
    let stripePayload = Data(#"{"id":"evt_3Q","object":"event","type":"payment_intent.succeeded","data":{"object":{"amount":1000,"currency":"usd","description":"充值 +1 415 555 0100"}}}"#.utf8)

    @Test func stripeSDKHeaderIsAcceptedAndTamperingRejected() throws {
        let timestamp: Int64 = 1_795_829_000
        let out = try PaymentPeer.run(
            ["stripe", "sign", "--payload", "@payload", "--secret", "@secret", "--timestamp", "\(timestamp)"],
            files: ["payload": stripePayload, "secret": Data(stripeSecret.utf8)])
        let body = try PaymentPeer.bytes(out)
        #expect(body == stripePayload)
        let header = try PaymentPeer.header(out, "Stripe-Signature")
        let verifier = StripeWebhookSignature(secret: stripeSecret)
        let now = Date(timeIntervalSince1970: TimeInterval(timestamp + 30))
        #expect(try verifier.verify(payload: body, header: header, now: now) == timestamp)
        // Our own signer agrees with the SDK's to the byte.
        #expect(StripeWebhookSignature.sign(payload: body, secret: stripeSecret, timestamp: timestamp) == header)

        var tampered = body
        tampered[10] ^= 0x20
        #expect(throws: PaymentProviderError.noMatchingSignature(.stripe)) {
            try verifier.verify(payload: tampered, header: header, now: now)
        }
        #expect(throws: PaymentProviderError.noMatchingSignature(.stripe)) {
            try StripeWebhookSignature(secret: "whsec_other").verify(payload: body, header: header, now: now)
        }
        #expect(throws: PaymentProviderError.timestampOutsideTolerance(.stripe, timestamp: timestamp, now: timestamp + 301, toleranceSeconds: 300)) {
            try verifier.verify(payload: body, header: header, now: Date(timeIntervalSince1970: TimeInterval(timestamp + 301)))
        }
    }

    @Test func ourStripeHeaderPassesStripesVerifyHeader() throws {
        // stripe's verify_header reads its own clock, so this header is made for the real now.
        let timestamp = Int64(Date().timeIntervalSince1970)
        let header = StripeWebhookSignature.sign(payload: stripePayload, secret: stripeSecret, timestamp: timestamp)
        let accepted = try PaymentPeer.run(
            ["stripe", "verify", "--payload", "@payload", "--secret", "@secret", "--header-file", "@header"],
            files: ["payload": stripePayload, "secret": Data(stripeSecret.utf8), "header": Data(header.utf8)])
        #expect(accepted["valid"] as? Bool == true, "\(accepted)")

        var tampered = stripePayload
        tampered[10] ^= 0x20
        let refused = try PaymentPeer.run(
            ["stripe", "verify", "--payload", "@payload", "--secret", "@secret", "--header-file", "@header"],
            files: ["payload": tampered, "secret": Data(stripeSecret.utf8), "header": Data(header.utf8)])
        #expect(refused["valid"] as? Bool == false)
    }

    // MARK: Alipay (python-alipay-sdk 3.4.0)

    /// No empty values: Alipay's gateway leaves them out of the signed string, but the SDK's `sign_data`
    /// does not, so an empty value would test the SDK's shortcut rather than the protocol.
    let alipayParameters: [String: String] = [
        "notify_time": "2026-11-28 09:30:00", "notify_type": "trade_status_sync", "notify_id": "2026112800222093000012345678",
        "app_id": "2021000000000001", "charset": "utf-8", "version": "1.0", "trade_no": "2026112822001401234567890123",
        "out_trade_no": "R-7f3a", "trade_status": "TRADE_SUCCESS", "total_amount": "100.05", "seller_id": "2088000000000001",
        "gmt_payment": "2026-11-28 09:29:58", "subject": "话费充值 +86 138 0013 8000", "body": "a&b=c 100% +1 充值~",
        "fund_bill_list": #"[{"amount":"100.05","fundChannel":"ALIPAYACCOUNT"}]"#,
    ]

    @Test func alipaySDKSignedNotifyIsAcceptedAndTamperingRejected() throws {
        let parametersJSON = try JSONSerialization.data(withJSONObject: alipayParameters)
        let out = try PaymentPeer.run(
            ["alipay", "notify", "--params", "@params", "--private-key", "@key"],
            files: ["params": parametersJSON, "key": Data(TestKeys.provider.pkcs8PEMRepresentation.utf8)])
        let body = try PaymentPeer.bytes(out)
        // Alipay hands its public key out as bare base64; load it that way.
        let key = try ProviderRSAKey.publicKey(TestKeys.provider.publicKey.derRepresentation.base64EncodedString(), provider: .alipay)
        let notification = try AlipayNotification.verify(body: body, alipayPublicKey: key)
        #expect(notification.totalAmountMinorUnits == 10005)
        #expect(notification.outTradeNo == "R-7f3a")
        #expect(notification.tradeNo == "2026112822001401234567890123")
        #expect(notification.tradeStatus == "TRADE_SUCCESS")
        #expect(notification.parameters["body"] == "a&b=c 100% +1 充值~")
        #expect(notification.parameters["subject"] == "话费充值 +86 138 0013 8000")

        let text = String(decoding: body, as: UTF8.self)
        let tampered = Data(text.replacingOccurrences(of: "total_amount=100.05", with: "total_amount=100.06").utf8)
        #expect(tampered != body)
        #expect(throws: PaymentProviderError.noMatchingSignature(.alipay)) {
            try AlipayNotification.verify(body: tampered, alipayPublicKey: key)
        }
        #expect(throws: PaymentProviderError.noMatchingSignature(.alipay)) {
            try AlipayNotification.verify(body: body, alipayPublicKey: TestKeys.stranger.publicKey)
        }
    }

    @Test(arguments: AlipayTradeMethod.allCases)
    func ourAlipayRequestBodyEqualsTheSDKs(method: AlipayTradeMethod) throws {
        let signer = AlipayRequestSigner(appID: "2021000000000001", merchantPrivateKey: TestKeys.merchant)
        let parameters = signer.parameters(
            method: method,
            bizContent: #"{"out_trade_no":"R-7f3a","total_amount":"12.34","subject":"话费充值 100元 & more","product_code":"FAST_INSTANT_TRADE_PAY"}"#,
            timestamp: Date(timeIntervalSince1970: 1_795_829_398),
            notifyURL: "https://recharge.example/v1/webhooks/alipay?x=1", returnURL: "https://recharge.example/paid")
        let out = try PaymentPeer.run(
            ["alipay", "request", "--params", "@params", "--private-key", "@key"],
            files: [
                "params": try JSONSerialization.data(withJSONObject: parameters),
                "key": Data(TestKeys.merchant.pkcs8PEMRepresentation.utf8),
            ])
        #expect(try signer.formBody(parameters) == out["body"] as? String)
    }

    // MARK: WeChat Pay (wechatpayv3 2.0.4, cryptography 50.0.2)

    let wechatSerial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    let apiV3KeyText = "Zk9pQ2xXeTN2Qm5MdE1hR3dKc0RmSGpL"

    func wechatNotify(timestamp: Int64) throws -> (Data, WeChatPaySignatureHeaders) {
        let out = try PaymentPeer.run(
            [
                "wechat", "notify", "--transaction", "@transaction", "--private-key", "@key", "--apiv3-key", "@apiv3",
                "--timestamp", "\(timestamp)", "--nonce", "fdasfwer2ewdsafe23", "--serial", wechatSerial,
                "--resource-nonce", "a1b2c3d4e5f6",
            ],
            files: [
                "transaction": Data(WeChatPayFixture.transactionJSON.utf8),
                "key": Data(TestKeys.provider.pkcs8PEMRepresentation.utf8),
                "apiv3": Data(apiV3KeyText.utf8),
            ])
        let headers = try #require(out["headers"] as? [String: String])
        return (try PaymentPeer.bytes(out), WeChatPaySignatureHeaders(headers: headers))
    }

    @Test func wechatSDKSignedNotificationIsAcceptedAndTamperingRejected() throws {
        let timestamp: Int64 = 1_795_829_000
        let (body, headers) = try wechatNotify(timestamp: timestamp)
        let keys = [wechatSerial: TestKeys.provider.publicKey]
        let apiV3Key = try WeChatPayAPIv3Key(apiV3KeyText)
        let now = Date(timeIntervalSince1970: TimeInterval(timestamp + 60))
        let notification = try WeChatPayNotification.verify(
            body: body, headers: headers, platformKeys: keys, apiV3Key: apiV3Key, now: now)
        #expect(notification.eventType == "TRANSACTION.SUCCESS")
        #expect(notification.transaction.outTradeNo == "R-7f3a")
        #expect(notification.transaction.transactionID == "4200000000202611280000000001")
        #expect(notification.transaction.tradeState == "SUCCESS")
        #expect(notification.transaction.amount.total == 1234)
        #expect(notification.transaction.amount.currency == "CNY")
        #expect(notification.transaction.mchID == "1900000109")
        #expect(notification.transaction.appID == "wxd678efh567hg6787")
        #expect(notification.resourcePlaintext == Data(WeChatPayFixture.transactionJSON.utf8))

        var tampered = body
        tampered[tampered.count - 5] ^= 0x01
        #expect(throws: PaymentProviderError.noMatchingSignature(.wechatPay)) {
            try WeChatPayNotification.verify(body: tampered, headers: headers, platformKeys: keys, apiV3Key: apiV3Key, now: now)
        }
        #expect(throws: PaymentProviderError.noMatchingSignature(.wechatPay)) {
            try WeChatPayNotification.verify(
                body: body, headers: headers, platformKeys: [wechatSerial: TestKeys.stranger.publicKey], apiV3Key: apiV3Key, now: now)
        }
        #expect(throws: PaymentProviderError.timestampOutsideTolerance(.wechatPay, timestamp: timestamp, now: timestamp + 400, toleranceSeconds: 300)) {
            try WeChatPayNotification.verify(
                body: body, headers: headers, platformKeys: keys, apiV3Key: apiV3Key,
                now: Date(timeIntervalSince1970: TimeInterval(timestamp + 400)))
        }
        #expect(throws: PaymentProviderError.decryptionFailed(.wechatPay)) {
            try WeChatPayNotification.verify(
                body: body, headers: headers, platformKeys: keys, apiV3Key: try WeChatPayAPIv3Key(String(apiV3KeyText.reversed())), now: now)
        }
    }

    @Test(arguments: [
        ("POST", "/v3/pay/transactions/native", #"{"appid":"wxd678efh567hg6787","mchid":"1900000109","description":"话费充值","out_trade_no":"R-7f3a","notify_url":"https://recharge.example/v1/webhooks/wechat","amount":{"total":1234,"currency":"CNY"}}"#),
        ("GET", "/v3/pay/transactions/out-trade-no/R-7f3a?mchid=1900000109", ""),
    ])
    func ourWeChatAuthorizationEqualsTheSDKs(method: String, path: String, body: String) throws {
        let signer = WeChatPayRequestSigner(mchID: "1900000109", serialNo: "3775B6A45ACD588826D15E583A95F5DD********", merchantPrivateKey: TestKeys.merchant)
        let ours = try signer.authorization(
            method: method, urlPathWithQuery: path, body: Data(body.utf8), timestamp: 1_795_829_398,
            nonce: "593BEC0C930BF1AFEB40B4A08C8FB242")
        let out = try PaymentPeer.run(
            [
                "wechat", "authorization", "--private-key", "@key", "--mchid", "1900000109",
                "--serial", "3775B6A45ACD588826D15E583A95F5DD********", "--method", method, "--path", path,
                "--body", "@body", "--timestamp", "1795829398", "--nonce", "593BEC0C930BF1AFEB40B4A08C8FB242",
            ],
            files: ["key": Data(TestKeys.merchant.pkcs8PEMRepresentation.utf8), "body": Data(body.utf8)])
        #expect(ours == out["authorization"] as? String)
    }
}
