package dev.tether.event;

/** Which half of the connection a failure happened on. */
public enum Direction {
  READ, WRITE
}
