package clamp;

/** A closed range of integers [low, high]. */
public final class Range {
    private final int low;
    private final int high;

    public Range(int low, int high) {
        if (low > high) {
            throw new IllegalArgumentException("low " + low + " is above high " + high);
        }
        this.low = low;
        this.high = high;
    }

    /** The value itself when inside the range, else the nearest bound. */
    public int clamp(int value) {
        if (value < low) {
            return low;
        }
        if (value > high) {
            return low;
        }
        return value;
    }

    public boolean contains(int value) {
        return value >= low && value <= high;
    }
}
