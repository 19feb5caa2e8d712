-- Release 1.1.0. Portable as is: both databases add the column and give
-- the rows already there the default, so older greetings read as 'en'.
ALTER TABLE greetings ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
