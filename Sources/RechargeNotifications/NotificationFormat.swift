import Foundation
import RechargeCore

/// How amounts, data volumes, durations and dates are written in messages, per language. Money is formatted
/// with integer arithmetic on micro-units (rounded half away from zero to the currency's minor unit), never
/// through floating point.
public enum NotificationFormat {
    /// `$1,234.56`, `-$5.00`, `€20.00`, `20.00 CHF` in English; `1,234.56 美元`, `20.00 元` in Chinese.
    public static func money(_ money: Money, language: NotificationLanguage) -> String {
        let digits = money.currency.minorUnitDigits
        let minor = money.minorUnits(rounding: .halfUp)
        let magnitude = minor.magnitude
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        var number = grouped(magnitude / scale)
        if digits > 0 {
            let fraction = String(magnitude % scale)
            number += "." + String(repeating: "0", count: digits - fraction.count) + fraction
        }
        let sign = minor < 0 ? "-" : ""
        let code = money.currency.code
        switch language {
        case .english:
            if let symbol = englishSymbols[code] { return sign + symbol + number }
            return sign + number + " " + code
        case .simplifiedChinese:
            return sign + number + " " + (chineseNames[code] ?? code)
        }
    }

    /// Data in binary units as carriers bill it: `512 KB`, `1.5 GB`, `10 GB` (one decimal, rounded half up,
    /// `.0` dropped). Negative amounts are written as zero.
    public static func dataVolume(bytes: Int64, language: NotificationLanguage) -> String {
        let bytes = UInt64(max(bytes, 0))
        let units: [(UInt64, String)] = [(1 << 40, "TB"), (1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")]
        for (size, name) in units where bytes >= size {
            let tenths = (bytes * 10 + size / 2) / size
            let text = tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
            return "\(text) \(name)"
        }
        return language == .english ? "\(bytes) bytes" : "\(bytes) 字节"
    }

    /// Voice time: `45 s` / `45 秒` under a minute, else whole minutes rounded up: `13 min` / `13 分钟`.
    public static func duration(seconds: Int64, language: NotificationLanguage) -> String {
        let seconds = max(seconds, 0)
        if seconds < 60 { return language == .english ? "\(seconds) s" : "\(seconds) 秒" }
        let minutes = (seconds + 59) / 60
        return language == .english ? "\(minutes) min" : "\(minutes) 分钟"
    }

    /// An amount of a bucket in its unit: money in `currency`, data volume, voice time, or a count of texts.
    public static func quantity(_ amount: Int64, kind: BucketKind, currency: Currency, language: NotificationLanguage) -> String {
        switch kind {
        case .monetary: money(Money(micros: amount, currency: currency), language: language)
        case .data: dataVolume(bytes: amount, language: language)
        case .voice: duration(seconds: amount, language: language)
        case .sms: language == .english ? (amount == 1 ? "1 text" : "\(max(amount, 0)) texts") : "\(max(amount, 0)) 条短信"
        }
    }

    /// `Dec 4, 2026` / `2026年12月4日`, on the calendar day of `timeZone`.
    public static func date(_ date: Date, language: NotificationLanguage, timeZone: TimeZone = TimeZone(identifier: "UTC")!) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        let (year, month, day) = (parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
        switch language {
        case .english: return "\(englishMonths[month - 1]) \(day), \(year)"
        case .simplifiedChinese: return "\(year)年\(month)月\(day)日"
        }
    }

    /// `1234567` → `1,234,567`.
    static func grouped(_ value: UInt64) -> String {
        let digits = Array(String(value))
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return result
    }

    static let englishMonths = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static let englishSymbols: [String: String] = [
        "USD": "$", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "HKD": "HK$", "SGD": "S$", "TWD": "NT$", "MXN": "MX$",
        "EUR": "€", "GBP": "£", "CNY": "CN¥", "JPY": "¥", "KRW": "₩", "INR": "₹", "PHP": "₱", "VND": "₫", "THB": "฿",
    ]

    static let chineseNames: [String: String] = [
        "USD": "美元", "CNY": "元", "HKD": "港元", "TWD": "新台币", "MOP": "澳门元", "SGD": "新加坡元", "EUR": "欧元",
        "GBP": "英镑", "CAD": "加元", "AUD": "澳元", "NZD": "新西兰元", "JPY": "日元", "KRW": "韩元", "MXN": "墨西哥比索",
        "CHF": "瑞士法郎", "INR": "印度卢比", "THB": "泰铢", "MYR": "马来西亚林吉特", "PHP": "菲律宾比索", "VND": "越南盾",
        "IDR": "印尼盾",
    ]

    /// How a top-up channel is named to the subscriber.
    static func channelName(_ channel: Channel, language: NotificationLanguage) -> String {
        switch language {
        case .english:
            switch channel {
            case .online: "online"
            case .card: "card"
            case .paypal: "PayPal"
            case .alipay: "Alipay"
            case .wechatPay: "WeChat Pay"
            case .bankTransfer: "bank transfer"
            case .voucher: "voucher"
            case .ivr: "phone"
            case .ussd: "USSD"
            case .retail: "store"
            case .customerService: "customer service"
            case .admin: "operator"
            case .promotion: "promotion"
            case .network: "network"
            case .system: "system"
            }
        case .simplifiedChinese:
            switch channel {
            case .online: "在线"
            case .card: "银行卡"
            case .paypal: "PayPal"
            case .alipay: "支付宝"
            case .wechatPay: "微信支付"
            case .bankTransfer: "银行转账"
            case .voucher: "充值卡"
            case .ivr: "电话"
            case .ussd: "USSD"
            case .retail: "门店"
            case .customerService: "客服"
            case .admin: "运营商"
            case .promotion: "促销"
            case .network: "网络"
            case .system: "系统"
            }
        }
    }

    static func bucketKindName(_ kind: BucketKind, language: NotificationLanguage) -> String {
        switch (kind, language) {
        case (.monetary, .english): "balance"
        case (.data, .english): "data"
        case (.voice, .english): "minutes"
        case (.sms, .english): "texts"
        case (.monetary, .simplifiedChinese): "余额"
        case (.data, .simplifiedChinese): "流量"
        case (.voice, .simplifiedChinese): "通话分钟"
        case (.sms, .simplifiedChinese): "短信"
        }
    }

    static func contactChannelName(_ channel: NotificationChannel, language: NotificationLanguage) -> String {
        switch (channel, language) {
        case (.email, .english): "email address"
        case (.email, .simplifiedChinese): "电子邮箱"
        case (_, .english): "phone number"
        case (_, .simplifiedChinese): "手机号码"
        }
    }

    /// Payment failure reasons the templates can name; anything else is shown as a generic failure.
    static func paymentFailureReason(_ reason: String, language: NotificationLanguage) -> String {
        let english = ["card_declined": "the card was declined", "insufficient_funds": "insufficient funds",
                       "expired_card": "the card has expired", "timeout": "the payment timed out"]
        let chinese = ["card_declined": "银行卡被拒绝", "insufficient_funds": "余额不足", "expired_card": "银行卡已过期",
                       "timeout": "支付超时"]
        switch language {
        case .english: return english[reason] ?? "the payment could not be completed"
        case .simplifiedChinese: return chinese[reason] ?? "支付未能完成"
        }
    }
}
