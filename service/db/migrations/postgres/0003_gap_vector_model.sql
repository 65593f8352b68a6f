-- Step 3, as sqlite/0003_gap_vector_model.sql: the embedding model each kept gap-question vector came from.
ALTER TABLE gap_questions ADD COLUMN vector_model TEXT;
