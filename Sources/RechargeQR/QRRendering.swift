extension QRCode {
    /// The symbol as an SVG document, safe to inline in HTML: a white background and one `<path>` of dark runs
    /// (`M x y h length v1 h -length z` per horizontal run), coordinates in modules with the quiet zone included in
    /// the `viewBox`, `shape-rendering="crispEdges"` so no anti-aliasing seams appear between runs.
    ///
    /// - Parameters:
    ///   - moduleSize: pixels per module for the `width`/`height` attributes; 0 or less leaves them out, so the
    ///     image takes the size its container or CSS gives it.
    ///   - quietZone: light modules around the symbol (the standard asks for 4).
    ///   - label: the accessible name (`<title>` and `aria-label`, escaped); without it the image is `aria-hidden`.
    public func svg(moduleSize: Int = 4, quietZone: Int = 4, label: String? = nil) -> String {
        let quiet = max(0, quietZone)
        let extent = size + 2 * quiet
        var out = [UInt8]()
        out.reserveCapacity(256 + size * size * 3)
        out.append(contentsOf: #"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 "#.utf8)
        out.appendDecimal(extent)
        out.append(UInt8(ascii: " "))
        out.appendDecimal(extent)
        out.append(UInt8(ascii: "\""))
        if moduleSize > 0 {
            out.append(contentsOf: #" width=""#.utf8)
            out.appendDecimal(extent * moduleSize)
            out.append(contentsOf: #"" height=""#.utf8)
            out.appendDecimal(extent * moduleSize)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: #" shape-rendering="crispEdges""#.utf8)
        if let label {
            let escaped = Self.escapeMarkup(label)
            out.append(contentsOf: #" role="img" aria-label=""#.utf8)
            out.append(contentsOf: escaped.utf8)
            out.append(contentsOf: #""><title>"#.utf8)
            out.append(contentsOf: escaped.utf8)
            out.append(contentsOf: "</title>".utf8)
        } else {
            out.append(contentsOf: #" aria-hidden="true">"#.utf8)
        }
        out.append(contentsOf: ##"<rect width="100%" height="100%" fill="#fff"/><path fill="#000" d=""##.utf8)
        for y in 0..<size {
            var x = 0
            while x < size {
                guard isDark(x: x, y: y) else { x += 1; continue }
                var end = x + 1
                while end < size, isDark(x: end, y: y) { end += 1 }
                out.append(UInt8(ascii: "M"))
                out.appendDecimal(x + quiet)
                out.append(UInt8(ascii: " "))
                out.appendDecimal(y + quiet)
                out.append(UInt8(ascii: "h"))
                out.appendDecimal(end - x)
                out.append(contentsOf: "v1h-".utf8)
                out.appendDecimal(end - x)
                out.append(UInt8(ascii: "z"))
                x = end
            }
        }
        out.append(contentsOf: #""/></svg>"#.utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// `&`, `<`, `>`, `"` and `'` as character references: the label is safe in text and in a quoted attribute.
    static func escapeMarkup(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// The symbol as a PNG file: 1-bit greyscale (dark 0, light 1), `scale` pixels per module (at least 1),
    /// `quietZone` light modules around it; IHDR, one IDAT (a zlib stream, see ``QRPNG``), IEND.
    public func png(scale: Int = 4, quietZone: Int = 4) -> [UInt8] {
        let scale = max(1, scale), quiet = max(0, quietZone)
        let width = (size + 2 * quiet) * scale
        let rowBytes = (width + 7) / 8
        let lineLength = rowBytes + 1
        var raw = [UInt8](repeating: 0xFF, count: lineLength * width)
        raw.withUnsafeMutableBufferPointer { raw in
            for y in 0..<(size + 2 * quiet) {
                let first = y * scale * lineLength
                raw[first] = 0  // filter type None
                if y >= quiet && y < quiet + size {
                    let moduleRow = y - quiet
                    for x in 0..<size where isDark(x: x, y: moduleRow) {
                        let start = (x + quiet) * scale
                        for pixel in start..<(start + scale) {
                            raw[first + 1 + pixel >> 3] &= ~(0x80 >> UInt8(pixel & 7))
                        }
                    }
                }
                for copy in 1..<scale {
                    let target = first + copy * lineLength
                    for index in 0..<lineLength { raw[target + index] = raw[first + index] }
                }
            }
        }
        return QRPNG.file(width: width, height: width, bitDepth: 1, scanlines: raw, lineLength: lineLength)
    }
}

extension [UInt8] {
    mutating func appendDecimal(_ value: Int) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(-value)
            return
        }
        if value >= 10 { appendDecimal(value / 10) }
        append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}
