package clamp;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class RangeTest {
    private final Range range = new Range(0, 10);

    @Test
    public void keepsValuesInside() {
        assertEquals(5, range.clamp(5));
    }

    @Test
    public void raisesValuesBelow() {
        assertEquals(0, range.clamp(-3));
    }

    @Test
    public void lowersValuesAbove() {
        assertEquals(10, range.clamp(42));
    }

    @Test
    public void containsItsBounds() {
        assertTrue(range.contains(0));
        assertTrue(range.contains(10));
        assertFalse(range.contains(11));
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesAnEmptyRange() {
        new Range(3, 2);
    }
}
