-- Listing moderation: an admin unlists a listing with a reason; the dealer cannot republish it
-- while the note stands.
ALTER TABLE product ADD COLUMN moderation_note TEXT;
