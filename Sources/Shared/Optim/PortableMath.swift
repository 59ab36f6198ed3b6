/// The few transcendental functions the optimizers need, written with only `+ - * /` in a fixed
/// order.
///
/// The platform's `pow` and `cos` come from the C library, whose last-bit results differ between
/// versions; a learning rate or bias correction that differs in one bit on one replica would break
/// bitwise-identical weights across machines. These never call the C library.
enum PortableMath {
    /// `base` raised to a non-negative integer power by binary exponentiation: O(log n)
    /// multiplications, identical bits everywhere. Each squaring doubles the relative error, to
    /// about `exponent` ulps in all, which is irrelevant for bias corrections: beta^t matters only
    /// while t is small.
    static func power(_ base: Double, _ exponent: Int) -> Double {
        precondition(exponent >= 0, "exponent \(exponent) must be non-negative")
        var result = 1.0
        var factor = base
        var remaining = exponent
        while remaining > 0 {
            if remaining & 1 == 1 { result *= factor }
            factor *= factor
            remaining >>= 1
        }
        return result
    }

    /// cos(pi * x) for x in [0, 1], within a few ulps of the true value.
    ///
    /// The argument is folded into [0, 1/4] with exact subtractions (Sterbenz), then a Taylor
    /// series of cos or sin at an angle of at most pi/4 is summed by Horner's rule; 11 terms leave
    /// a truncation error below 1e-20. The ends are exact: cosPi(0) = 1, cosPi(0.5) = 0,
    /// cosPi(1) = -1.
    static func cosPi(_ x: Double) -> Double {
        precondition(x >= 0 && x <= 1, "cosPi argument \(x) outside [0, 1]")
        if x > 0.5 { return -cosPi(1 - x) }
        if x > 0.25 { return sinOfAngle(Double.pi * (0.5 - x)) }
        return cosOfAngle(Double.pi * x)
    }

    private static let terms = 11

    /// Taylor series of cos at |angle| <= pi/4.
    private static func cosOfAngle(_ angle: Double) -> Double {
        let square = angle * angle
        var sum = 1.0
        // cos = 1 - a^2/2! (1 - a^2/(3*4) (1 - a^2/(5*6) (...)))
        for k in stride(from: terms, through: 1, by: -1) {
            sum = 1 - square / Double((2 * k - 1) * (2 * k)) * sum
        }
        return sum
    }

    /// Taylor series of sin at |angle| <= pi/4.
    private static func sinOfAngle(_ angle: Double) -> Double {
        let square = angle * angle
        var sum = 1.0
        // sin = a (1 - a^2/(2*3) (1 - a^2/(4*5) (...)))
        for k in stride(from: terms, through: 1, by: -1) {
            sum = 1 - square / Double((2 * k) * (2 * k + 1)) * sum
        }
        return angle * sum
    }
}
