// env.trace with no argument, with five, and floats of every shape Go's 'g' format knows.
trace("zero");
trace("one", 1, 42);
trace("five", 5, 1, 2.5, -3, 0.1, 1e21);
trace("large", 5, 123456, 1234567, 1e6, 1.5e300, f64.MAX_VALUE);
trace("small", 5, 0.0001, 0.00001, 1.25e-7, 5e-324, -0.0);
trace("special", 3, NaN, Infinity, -Infinity);
trace("unicode: héllo, 世界, 🎉");
