/// Reed–Solomon error correction over GF(256) with the QR Code's field polynomial x⁸+x⁴+x³+x²+1 (0x11D) and the
/// generator polynomial ∏(x − αⁱ), i = 0 ..< degree (ISO/IEC 18004 7.5.2, Annex A).
///
/// The codewords are the remainder of data(x)·x^degree divided by the generator. For speed every generator's
/// products with all 256 field elements are tabulated once (degrees 7 to 30, ~100 KB), so the division is one table
/// row XORed into the remainder per data byte, with no logarithms in the loop.
enum QRReedSolomon {
    /// αⁱ for i in 0 ..< 510 (doubled so a sum of two logarithms needs no reduction) and log α of 1 ... 255.
    static let field: (exp: [UInt8], log: [UInt8]) = {
        var exp = [UInt8](repeating: 0, count: 512)
        var log = [UInt8](repeating: 0, count: 256)
        var value = 1
        for power in 0..<255 {
            exp[power] = UInt8(value)
            log[value] = UInt8(power)
            value <<= 1
            if value & 0x100 != 0 { value ^= 0x11D }
        }
        for power in 255..<512 { exp[power] = exp[power - 255] }
        return (exp, log)
    }()

    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        if a == 0 || b == 0 { return 0 }
        return field.exp[Int(field.log[Int(a)]) + Int(field.log[Int(b)])]
    }

    /// The generator polynomial of a degree, highest power first with its leading 1 left out (`degree` coefficients).
    static func generator(degree: Int) -> [UInt8] {
        var coefficients = [UInt8](repeating: 0, count: degree)
        coefficients[degree - 1] = 1
        var root: UInt8 = 1
        for _ in 0..<degree {
            // Multiply by (x − root); in GF(2⁸) subtraction is XOR.
            for index in 0..<degree {
                coefficients[index] = multiply(coefficients[index], root)
                if index + 1 < degree { coefficients[index] ^= coefficients[index + 1] }
            }
            root = multiply(root, 2)
        }
        return coefficients
    }

    static let degrees = 7...30

    /// For each degree: 256 rows of `degree` bytes, row f = f × generator(degree).
    static let productTables: [[UInt8]] = degrees.map { degree in
        let generator = generator(degree: degree)
        var table = [UInt8](repeating: 0, count: 256 * degree)
        for factor in 0..<256 {
            for index in 0..<degree { table[factor * degree + index] = multiply(generator[index], UInt8(factor)) }
        }
        return table
    }

    /// The `degree` error-correction codewords of `data` (degree 7 ... 30, the range the QR tables use).
    static func remainder(of data: ArraySlice<UInt8>, degree: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: degree)
        remainder(of: data, degree: degree, into: &result)
        return result
    }

    /// As ``remainder(of:degree:)``, writing into `result` (`degree` bytes).
    static func remainder(of data: ArraySlice<UInt8>, degree: Int, into result: inout [UInt8]) {
        precondition(degrees.contains(degree), "Reed–Solomon degree \(degree) is not one QR Code uses")
        productTables[degree - degrees.lowerBound].withUnsafeBufferPointer { table in
            result.withUnsafeMutableBufferPointer { remainder in
                for index in 0..<degree { remainder[index] = 0 }
                for byte in data {
                    let factor = Int(byte ^ remainder[0])
                    let row = factor * degree
                    for index in 0..<(degree - 1) { remainder[index] = remainder[index + 1] ^ table[row + index] }
                    remainder[degree - 1] = table[row + degree - 1]
                }
            }
        }
    }
}
