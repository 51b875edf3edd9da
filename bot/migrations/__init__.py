"""Our tables' schema history as Alembic revisions (``versions/``), and what runs them (``runner``)."""
